import Testing
@testable import PalaceLog

@Suite struct PropertyTests {
    /// Random records of every type, bodies from 0 B to 8 MiB, across several segments: each reads back equal,
    /// by iteration and by position, with exchange ids assigned densely to begin records.
    @Test(arguments: [UInt64(1), 2, 3])
    func randomRecordsRoundTrip(seed: UInt64) async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        var r = SeededRandom(seed: seed)
        var options = LogWriterOptions(syncPolicy: .none)
        options.segmentMaxBytes = 256 << 10
        let writer = try LogWriter.open(directory: dir.path, options: options)
        var expected: [(AppendResult, LogRecord)] = []
        let sizes = [0, 1, 15, 16, 17, 100, 4096, 65_535, 65_536, 70_000, 1 << 20, 8 << 20]
        var nextExchange: UInt64 = 1
        for i in 0..<120 {
            let size = i < sizes.count ? sizes[i] : Int.random(in: 0...3000, using: &r)
            var rec = RandomRecords.record(&r, bodySize: size, exchangeID: UInt64.random(in: 1...1 << 40, using: &r))
            let result = try await writer.append(rec)
            if case .begin(var b) = rec { b.exchangeID = nextExchange; nextExchange += 1; rec = .begin(b) }
            expected.append((result, rec))
        }
        try await writer.close()
        let reader = try LogReader(directory: dir.path)
        let it = reader.records()
        let got = Array(it)
        #expect(it.damage.isEmpty)
        #expect(got.count == expected.count)
        for (g, (res, rec)) in zip(got, expected) {
            #expect(g.sequence == res.sequence && g.position == res.position)
            #expect(g.record == rec, "sequence \(g.sequence)")
        }
        for (res, rec) in expected.shuffled(using: &r).prefix(20) { #expect(try reader.read(at: res.position).record == rec) }
        #expect(dir.segmentFiles().count >= 3)
        #expect(try LogInspector.inspect(directory: dir.path, decode: true).damage.isEmpty)
    }

    @Test func concurrentProducersGetDenseIdsAndSequences() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        let ids = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for p in 0..<16 {
                group.addTask {
                    var mine: [UInt64] = []
                    for i in 0..<50 { mine.append(try await writer.appendBegin(Samples.begin(p * 100 + i)).exchangeID) }
                    return mine
                }
            }
            return try await group.reduce(into: [UInt64]()) { $0 += $1 }
        }
        try await writer.close()
        #expect(ids.sorted() == Array(1...800))
        let seqs = Array(try LogReader(directory: dir.path).records()).map(\.sequence)
        #expect(seqs == Array(1...800))
    }
}
