import Testing
@testable import PalaceWire

/// A small deterministic generator so failures reproduce (the seed is in the test name/arguments).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func parseAll(_ pieces: [ArraySlice<UInt8>]) -> [SSEEvent] {
    var parser = SSEParser()
    var events: [SSEEvent] = []
    for piece in pieces { events += parser.feed(piece) }
    if let last = parser.finish() { events.append(last) }
    return events
}

@Suite struct SSEParserTests {
    /// Mixed line ends, comments, multi-line data, unicode, a stray blank line, a final event without blank line.
    static let stream: [UInt8] = Array((
        ": keep-alive\n\n"
        + "data: {\"a\":\"中文😀\"}\n\n"
        + "event: message\r\nid: 7\r\ndata: line1\r\ndata:line2\r\ndata:  spaced\r\n\r\n"
        + "\n"
        + "data: cr-only\r\rretry: 1500\rdata: x\r\r"
        + "data: mixed\n\r\n"
        + "data\nfoo: ignored\n\n"
        + "data: [DONE]\n\n"
        + "data: tail without blank line"
    ).utf8)

    static let expected: [SSEEvent] = [
        SSEEvent(data: "", hasData: false, raw: Array(": keep-alive\n\n".utf8)),
        SSEEvent(data: "{\"a\":\"中文😀\"}", raw: Array("data: {\"a\":\"中文😀\"}\n\n".utf8)),
        SSEEvent(event: "message", data: "line1\nline2\n spaced", id: "7",
                 raw: Array("event: message\r\nid: 7\r\ndata: line1\r\ndata:line2\r\ndata:  spaced\r\n\r\n".utf8)),
        SSEEvent(data: "cr-only", raw: Array("\ndata: cr-only\r\r".utf8)),
        SSEEvent(data: "x", retry: 1500, raw: Array("retry: 1500\rdata: x\r\r".utf8)),
        SSEEvent(data: "mixed", raw: Array("data: mixed\n\r\n".utf8)),
        SSEEvent(data: "", raw: Array("data\nfoo: ignored\n\n".utf8)),
        SSEEvent(data: "[DONE]", raw: Array("data: [DONE]\n\n".utf8)),
        SSEEvent(data: "tail without blank line", raw: Array("data: tail without blank line".utf8)),
    ]

    @Test func wholeStreamInOnePiece() {
        let events = parseAll([Self.stream[...]])
        #expect(events == Self.expected)
        #expect(events.flatMap(\.raw) == Self.stream)
        #expect(events.map(\.isDone) == [false, false, false, false, false, false, false, true, false])
    }

    /// The usual events (read in place, without copying their data) among unusual ones, split everywhere: the
    /// allocation-free reading (`append`/`next`/`withData`) gives the events `feed` gives, and both the expected ones.
    @Test func inPlaceEventsEqualLineByLineReading() {
        let text = ": c\n\n" + "data: {\"a\":1}\n\n" + "data:x\n\n" + "data: \n\n" + "data:\n\n" + "data: a\r\n\r\n"
            + "data: b\n\r\n" + "data: c\ndata: d\n\n" + "data: 中文\n\n" + "event: e\ndata: f\n\n" + "data: g\n\n"
        let stream = Array(text.utf8)
        let expected: [(String, Bool)] = [("", false), (#"{"a":1}"#, true), ("x", true), ("", true), ("", true), ("a", true),
                                          ("b", true), ("c\nd", true), ("中文", true), ("f", true), ("g", true)]
        for cut in 0...stream.count {
            for pieces in [[stream[..<cut], stream[cut...]], [stream[..<cut]] + stream[cut...].indices.map { stream[$0...$0] }] {
                var parser = SSEParser()
                var got: [(String, Bool)] = []
                var raw: [UInt8] = []
                for piece in pieces {
                    parser.append(piece)
                    while let found = parser.next() {
                        got.append((parser.withData { String(decoding: $0, as: UTF8.self) }, found.hasData))
                        raw += parser.withRaw(found) { Array($0) }
                    }
                }
                #expect(got.map(\.0) == expected.map(\.0) && got.map(\.1) == expected.map(\.1), "cut at \(cut)")
                #expect(raw == stream, "cut at \(cut)")
                #expect(parseAll(pieces).map(\.data) == expected.map(\.0), "cut at \(cut)")
            }
        }
        // swapData hands over an in-place event's data too.
        var parser = SSEParser()
        parser.append(Array("data: first\n\ndata: second\n\n".utf8))
        _ = parser.next()
        _ = parser.next()
        var mine: [UInt8] = Array("old".utf8)
        parser.swapData(&mine)
        #expect(String(decoding: mine, as: UTF8.self) == "second")
    }

    @Test func splitAtEveryByteBoundaryGivesIdenticalEvents() {
        let s = Self.stream
        for cut in 0...s.count {
            #expect(parseAll([s[..<cut], s[cut...]]) == Self.expected, "cut at \(cut)")
        }
        #expect(parseAll(s.indices.map { s[$0...$0] }) == Self.expected, "one byte at a time")
    }

    @Test(arguments: 0..<50)
    func randomPiecesGiveIdenticalEvents(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed))
        let s = Self.stream
        var pieces: [ArraySlice<UInt8>] = []
        var at = 0
        while at < s.count {
            let n = Int.random(in: 0...min(12, s.count - at), using: &rng)
            pieces.append(s[at..<at + n])
            at += n
        }
        #expect(parseAll(pieces) == Self.expected)
    }

    @Test func heldBackCarriageReturnAtEndIsALineEnd() {
        var p = SSEParser()
        #expect(p.feed(Array("data: a\r".utf8)).isEmpty)
        #expect(p.feed(Array("\r".utf8)).isEmpty)   // could still be "\r\n"
        #expect(p.finish() == SSEEvent(data: "a", raw: Array("data: a\r\r".utf8)))
        #expect(p.finish() == nil)
        #expect(p.feed(Array("data: b\n\n".utf8)).map(\.data) == ["b"])   // reusable after finish
    }

    @Test func hugeEventSplitIntoTinyReads() {
        let payload = String(repeating: "x", count: 1_000_000)
        let bytes = Array("data: \(payload)\n\n".utf8)
        var p = SSEParser()
        var events: [SSEEvent] = []
        var at = 0
        while at < bytes.count {
            events += p.feed(bytes[at..<min(at + 1000, bytes.count)])
            at += 1000
        }
        #expect(events.count == 1 && events[0].data.utf8.count == 1_000_000)
    }

    @Test func byteOrderMarkIsIgnored() {
        let events = parseAll([([0xEF, 0xBB, 0xBF] + Array("data: x\n\n".utf8))[...]])
        #expect(events.map(\.data) == ["x"])
        #expect(events.first?.raw.count == 12)
    }

    @Test func onlyBlankLinesGiveNoEvents() {
        #expect(parseAll([Array("\n\r\n\r\r".utf8)[...]]).isEmpty)
    }

    @Test func encoderOutputParsesBack() {
        var bytes = SSEEncoder.encode(data: "a\nb\r\nc\rd", event: "delta", id: "3")
        bytes += SSEEncoder.encode(data: " lead", event: nil)
        bytes += SSEEncoder.encode(json: ["k": "v\nw"])
        bytes += SSEEncoder.comment("ping")
        bytes += SSEEncoder.encode(data: "")
        bytes += SSEEncoder.done
        let events = parseAll([bytes[...]])
        #expect(events.map(\.data) == ["a\nb\nc\nd", " lead", #"{"k":"v\nw"}"#, "", "", "[DONE]"])
        #expect(events[0].event == "delta" && events[0].id == "3")
        #expect(events[3].hasData == false && events[4].hasData == true)
        #expect(String(decoding: SSEEncoder.encode(json: ["a": 1]), as: UTF8.self) == "data: {\"a\":1}\n\n")
        #expect(String(decoding: SSEEncoder.done, as: UTF8.self) == "data: [DONE]\n\n")
        #expect(events.last?.isDone == true)
    }
}
