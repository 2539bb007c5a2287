import Testing
@testable import PalaceLog

@Suite struct DamageTests {
    /// Random bit flips inside frames of sealed segments: verify reports each damaged record with its segment and
    /// offset, and every undamaged record still reads.
    @Test(arguments: [UInt64(11), 12, 13, 14])
    func bitFlipsInSealedSegmentsAreReportedAndSkipped(seed: UInt64) async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        var r = SeededRandom(seed: seed)
        var options = LogWriterOptions(syncPolicy: .none)
        options.segmentMaxBytes = 4096
        let w = try LogWriter.open(directory: dir.path, options: options)
        var results: [AppendResult] = []
        for i in 0..<300 {
            let rec = RandomRecords.record(&r, bodySize: Int.random(in: 0...600, using: &r), exchangeID: UInt64(i))
            results.append(try await w.append(rec))
        }
        try await w.close()
        let lastSegment = results.last!.position.segment
        // Frames of sealed segments, as (segment, offset, end).
        var frames: [(Int, UInt64, UInt64)] = []
        for (i, res) in results.enumerated() where res.position.segment != lastSegment {
            let next = i + 1 < results.count && results[i + 1].position.segment == res.position.segment
                ? results[i + 1].position.offset
                : UInt64(dir.bytes(SegmentName.fileName(for: res.position.segment)).count)
            frames.append((i, res.position.offset, next))
        }
        // Flip one random bit in each of 8 frames, no two adjacent (adjacent damage merges into one region).
        var chosen: [Int] = []
        while chosen.count < 8 {
            let k = Int.random(in: 0..<frames.count, using: &r)
            if chosen.allSatisfy({ abs($0 - k) > 1 }) { chosen.append(k) }
        }
        for k in chosen {
            let (_, offset, end) = frames[k]
            let name = SegmentName.fileName(for: results[frames[k].0].position.segment)
            var b = dir.bytes(name)
            let at = Int.random(in: Int(offset)..<Int(end), using: &r)
            b[at] ^= 1 << UInt8.random(in: 0..<8, using: &r)
            dir.write(name, b)
        }
        let damaged = Set(chosen.map { frames[$0].0 })
        let summary = try LogInspector.inspect(directory: dir.path, decode: true)
        let reported = Set(summary.damage.map { RecordPosition(segment: $0.segment, offset: $0.offset) })
        let expected = Set(damaged.map { results[$0].position })
        #expect(reported == expected)
        #expect(summary.tornTail == nil)
        let it = try LogReader(directory: dir.path).records()
        let read = Array(it).map(\.sequence)
        let survivors = results.enumerated().filter { !damaged.contains($0.offset) }.map(\.element.sequence)
        #expect(read == survivors)
        #expect(it.damage.count == damaged.count)
    }
}
