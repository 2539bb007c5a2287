import Testing
@testable import PalaceLog

@Suite struct RoundTripTests {
    @Test func appendedRecordsReadBackInOrder() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        var expected: [(AppendResult, LogRecord)] = []
        for i in 0..<50 {
            var b = Samples.begin(i)
            let (id, r) = try await writer.appendBegin(b)
            b.exchangeID = id
            #expect(id == UInt64(i + 1))
            expected.append((r, .begin(b)))
            let c = LogRecord.chunk(ExchangeChunk(exchangeID: id, direction: .response, offset: 0, bytes: Array(repeating: UInt8(i), count: i * 10)))
            expected.append((try await writer.append(c), c))
            let e = LogRecord.end(Samples.end(id, i))
            expected.append((try await writer.append(e), e))
        }
        try await writer.close()
        let reader = try LogReader(directory: dir.path)
        let it = reader.records()
        let got = Array(it)
        #expect(it.damage.isEmpty)
        #expect(got.count == expected.count)
        for (g, (r, rec)) in zip(got, expected) {
            #expect(g.sequence == r.sequence)
            #expect(g.position == r.position)
            #expect(g.record == rec)
            #expect(try reader.read(at: r.position).record == rec)
        }
        #expect(reader.nextSequence == UInt64(expected.count + 1))
    }
}
