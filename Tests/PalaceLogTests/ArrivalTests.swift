import Testing
@testable import PalaceLog

/// The arrivals field (FORMAT.md 1.2, "Arrival times"): packed varint pairs (Δt µs, length), one per read.
@Suite struct ArrivalTests {
    @Test func packsTheDocumentsExample() {
        var a = BodyArrivals()
        a.append(length: 120, micros: 41_200)
        a.append(length: 95, micros: 43_000)
        a.append(length: 95, micros: 43_000)
        #expect(a.packed == [0xf0, 0xc1, 0x02, 0x78, 0x88, 0x0e, 0x5f, 0x00, 0x5f])
        #expect(a.entries(from: 1000) == [BodyArrival(offset: 1000, length: 120, micros: 41_200),
                                          BodyArrival(offset: 1120, length: 95, micros: 43_000),
                                          BodyArrival(offset: 1215, length: 95, micros: 43_000)])
    }

    @Test func emptyReadsAreSkippedAndTimeNeverGoesBack() {
        var a = BodyArrivals()
        a.append(length: 0, micros: 5)
        #expect(a.isEmpty)
        a.append(length: 3, micros: 900)
        a.append(length: 2, micros: 400)   // earlier than the previous entry: taken as 900
        #expect(a.entries(from: 0).map(\.micros) == [900, 900])
    }

    @Test func decodedArrivalsContinueAfterTheirLastEntry() {
        var a = BodyArrivals()
        a.append(length: 7, micros: 10_000)
        var b = BodyArrivals(packed: a.packed)
        b.append(length: 1, micros: 10_250)
        #expect(b.entries(from: 0).map(\.micros) == [10_000, 10_250] && b.packed.suffix(3) == [0xfa, 0x01, 0x01])
    }

    @Test func aTruncatedPairEndsTheEntriesWithoutLosingTheOnesBefore() {
        var a = BodyArrivals()
        a.append(length: 300, micros: 1)
        a.append(length: 300, micros: 2)
        let cut = BodyArrivals(packed: Array(a.packed.dropLast()))
        #expect(cut.entries(from: 0) == [BodyArrival(offset: 0, length: 300, micros: 1)])
        #expect(BodyArrivals(packed: [0x80, 0x80]).entries(from: 0).isEmpty)
        #expect(BodyArrivals(packed: [0x05, 0x00]).entries(from: 0).isEmpty)   // a zero-length read is malformed
    }

    @Test func recordsOfOneBodyJoinInBodyOrder() {
        var tail = BodyArrivals(); tail.append(length: 2, micros: 70)
        var head = BodyArrivals(); head.append(length: 5, micros: 30); head.append(length: 5, micros: 50)
        let joined = BodyArrivals.join([(offset: 10, arrivals: tail), (offset: 0, arrivals: head), (offset: 12, arrivals: BodyArrivals())])
        #expect(joined.map(\.offset) == [0, 5, 10] && joined.map(\.micros) == [30, 50, 70] && joined.last?.endOffset == 12)
    }

    @Test func chunkAndEndRecordsRoundTripTheirArrivals() throws {
        var a = BodyArrivals(); a.append(length: 64, micros: 123_456); a.append(length: 1, micros: 123_999)
        for record in [LogRecord.chunk(ExchangeChunk(exchangeID: 7, direction: .response, offset: 9, bytes: [1, 2], arrivals: a)),
                       .end(ExchangeEnd(exchangeID: 7, endedAt: 5, status: 200, arrivals: a))] {
            let payload = PayloadEncoding.encode(record)
            let back = try payload.withUnsafeBytes { try PayloadDecoder.decode(type: record.type, exchangeID: 7, payload: $0) }
            #expect(back == record)
        }
    }
}
