import Foundation
import Testing
@testable import PalaceLog

@Suite struct MaintenanceTests {
    /// A log of `n` exchanges (begin + end) in small segments.
    func makeLog(_ dir: TempDirectory, exchanges n: Int, segmentBytes: UInt64 = 2048) async throws -> [AppendResult] {
        var options = LogWriterOptions(syncPolicy: .none)
        options.segmentMaxBytes = segmentBytes
        let w = try LogWriter.open(directory: dir.path, options: options)
        var results: [AppendResult] = []
        for i in 0..<n {
            let (x, r) = try await w.appendBegin(Samples.begin(i))
            results.append(r)
            results.append(try await w.append(.end(Samples.end(x, i))))
        }
        try await w.close()
        return results
    }

    @Test func retentionBySizeDropsOldestSealedSegmentsOnly() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        _ = try await makeLog(dir, exchanges: 60)
        let before = dir.segmentFiles()
        #expect(before.count > 5)
        let removed = try LogRetention.apply(directory: dir.path, policy: .init(maxTotalBytes: 6000))
        let after = dir.segmentFiles()
        #expect(!removed.isEmpty && after == Array(before.dropFirst(removed.count)))
        #expect(after.count >= 1 && after.last == before.last)
        let total = after.reduce(0) { $0 + dir.bytes($1).count }
        #expect(total <= 6000 || after.count == 1)
        // The remaining log reads from its first remaining record, and a writer continues the numbering.
        let seqs = Array(try LogReader(directory: dir.path).records()).map(\.sequence)
        #expect(seqs.last == 120 && seqs == Array(seqs.first!...120))
        let w = try LogWriter.open(directory: dir.path)
        #expect(try await w.appendBegin(Samples.begin(0)).exchangeID == 61)
        try await w.close()
    }

    @Test func retentionByAgeKeepsTheActiveSegment() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        _ = try await makeLog(dir, exchanges: 30)
        let count = dir.segmentFiles().count
        #expect(try LogRetention.apply(directory: dir.path, policy: .init(maxAge: 3600)).isEmpty)
        let future = Int64(Date().timeIntervalSince1970 * 1e6) + 7200 * 1_000_000
        let removed = try LogRetention.apply(directory: dir.path, policy: .init(maxAge: 3600), now: future)
        #expect(removed.count == count - 1 && dir.segmentFiles().count == 1)
    }

    @Test func compactionDropsTombstonedExchangesAndKeepsSequences() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        _ = try await makeLog(dir, exchanges: 40)
        let doomed: Set<UInt64> = [2, 3, 5, 8, 13, 21, 34]
        let result = try LogCompaction.compact(directory: dir.path) { !doomed.contains($0.record.exchangeID) }
        #expect(result.segmentsRewritten > 0 && result.bytesReclaimed > 0)
        let records = Array(try LogReader(directory: dir.path).records())
        let lastSegment = try #require(try LogReader(directory: dir.path).segments().last)
        for r in records where r.position.segment != lastSegment { #expect(!doomed.contains(r.record.exchangeID)) }
        let seqs = records.map(\.sequence)
        #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
        #expect(try LogInspector.inspect(directory: dir.path, decode: true).damage.isEmpty)
        // Positions from the reader are valid after compaction.
        for r in records { #expect(try LogReader(directory: dir.path).read(at: r.position).sequence == r.sequence) }
    }

    /// A crash in the middle of compaction leaves a `.tmp` beside the old segment: the log reads as before, and
    /// the next writer open or compaction deletes the leftover.
    @Test func interruptedCompactionLeavesTheOldSegment() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        _ = try await makeLog(dir, exchanges: 20)
        let first = dir.segmentFiles()[0]
        let original = dir.bytes(first)
        dir.write(first + ".tmp", Array(original.prefix(100)))
        let before = Array(try LogReader(directory: dir.path).records()).map(\.sequence)
        #expect(before == Array(1...40))
        let w = try LogWriter.open(directory: dir.path)
        try await w.close()
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/" + first + ".tmp"))
        #expect(dir.bytes(first) == original)
    }

    @Test func segmentsRollByAge() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        var options = LogWriterOptions()
        options.segmentMaxAge = 0.05
        let w = try LogWriter.open(directory: dir.path, options: options)
        _ = try await w.appendBegin(Samples.begin(0))
        try await Task.sleep(for: .milliseconds(120))
        let r = try await w.appendBegin(Samples.begin(1)).result
        try await w.sync()
        try await w.close()
        #expect(dir.segmentFiles().count == 2 && r.position.segment == 2)
    }

    @Test func exchangeIsReassembledFromItsRecords() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let w = try LogWriter.open(directory: dir.path)
        var b = Samples.begin(1, body: Array("abc".utf8))
        b.requestBodyComplete = false
        let (x, _) = try await w.appendBegin(b)
        let (other, _) = try await w.appendBegin(Samples.begin(2))
        _ = try await w.append(.chunk(ExchangeChunk(exchangeID: x, direction: .request, offset: 3, bytes: Array("def".utf8))))
        _ = try await w.append(.chunk(ExchangeChunk(exchangeID: x, direction: .response, offset: 0, bytes: Array("data: 1\n\n".utf8))))
        var end = Samples.end(x, 1)
        end.responseBody = Array("data: [DONE]\n\n".utf8)
        end.responseBodyOffset = 9
        _ = try await w.append(.end(end))
        _ = try await w.append(.annotation(Annotation(exchangeID: x, category: "badcase", addTags: ["a", "b"])))
        _ = try await w.append(.annotation(Annotation(exchangeID: x, removeTags: ["a"])))
        _ = try await w.append(.tombstone(Tombstone(exchangeIDs: [other], reason: "cleanup")))
        try await w.close()
        var assembler = ExchangeAssembler()
        for r in try LogReader(directory: dir.path).records() { assembler.add(r) }
        let e = try #require(assembler.exchange(x))
        #expect(String(decoding: e.requestBody, as: UTF8.self) == "abcdef")
        #expect(String(decoding: e.responseBody, as: UTF8.self) == "data: 1\n\ndata: [DONE]\n\n")
        #expect(e.state == .complete && e.category == "badcase" && e.tags == ["b"] && e.positions.count == 6)
        #expect(assembler.exchange(other) == nil && assembler.tombstoned == [other])
        #expect(try LogReader(directory: dir.path).exchange(id: x)?.responseBody == e.responseBody)
    }
}
