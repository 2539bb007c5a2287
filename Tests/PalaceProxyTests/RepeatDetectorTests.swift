import PalaceWire
import Testing
@testable import PalaceProxy

@Suite struct RepeatDetectorTests {
    /// Seeded pseudo-random prose: words of 2–9 letters from a seeded generator, no phrase pool to repeat.
    struct Prose {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        mutating func word() -> String {
            let letters = Array("abcdefghijklmnopqrstuvwxyz")
            let n = 2 + Int(next() % 8)
            var w = ""
            for _ in 0..<n { w.append(letters[Int(next() % 26)]) }
            return w + (next() % 9 == 0 ? ". " : " ")
        }
        mutating func chinese() -> String {
            String(UnicodeScalar(0x4E00 + UInt32(next() % 3000))!)
        }
    }

    @Test func twoHundredThousandHealthyCharactersNeverTrip() {
        var detector = RepeatDetector(threshold: 0.5, minLength: 100)
        var prose = Prose(state: 42)
        var minimum = 1.0
        while detector.length < 200_000 {
            let token = detector.length % 3 == 0 ? prose.chinese() + prose.chinese() : prose.word()
            let tripped = detector.feed(token)
            #expect(!tripped, "tripped at \(detector.length) characters (ratio \(detector.ratio))")
            if detector.length > 1000 { minimum = min(minimum, detector.ratio) }
        }
        #expect(minimum > 0.95)
    }

    @Test func loopAfterLongHealthyTextTripsWithin4000Characters() {
        for loop in ["I am Kimi. ", "哈", "   ", "The answer is 42, and the answer is 42, and ", "我是一个人工智能助手，很高兴为你服务。"] {
            var detector = RepeatDetector(threshold: 0.5, minLength: 100)
            var prose = Prose(state: 7)
            var early = false
            while detector.length < 20_000 { early = early || detector.feed(prose.word()) }
            #expect(!early)
            let start = detector.length
            var tripped = false
            while detector.length - start < 4000 {
                if detector.feed(loop) { tripped = true; break }
            }
            #expect(tripped, "loop \(loop.debugDescription) not caught within 4000 characters")
            #expect(detector.length - start < 2000 + loop.unicodeScalars.count)
        }
    }

    @Test func loopFromTheStartTripsRightAfterMinLength() {
        var detector = RepeatDetector(threshold: 0.5, minLength: 100)
        var at = 0
        while at == 0 { if detector.feed("ha") { at = detector.length } }
        #expect(at > 100 && at <= 102)
    }

    @Test func higherThresholdTripsSooner() {
        func tripPoint(_ threshold: Double) -> Int {
            var detector = RepeatDetector(threshold: threshold, minLength: 100)
            var prose = Prose(state: 3)
            while detector.length < 5000 { _ = detector.feed(prose.word()) }
            let start = detector.length
            while !detector.feed("loop loop loop ") {}
            return detector.length - start
        }
        #expect(tripPoint(0.9) < tripPoint(0.5))
        #expect(tripPoint(0.5) < tripPoint(0.1))
    }

    /// The open-addressing table (with backward-shift deletion) against a plain dictionary, on a tiny alphabet
    /// where the window is full of collisions, removals and re-insertions.
    @Test func distinctCountMatchesAReferenceWindow() {
        var detector = RepeatDetector(threshold: 0, minLength: 0)
        var prose = Prose(state: 99)
        var scalars: [UInt32] = []
        for step in 0..<40_000 {
            let c: UInt32 = step % 5000 < 2500 ? UInt32(97 + prose.next() % 2) : UInt32(97 + prose.next() % 26)
            detector.add(c)
            scalars.append(c)
            if step % 997 == 0 || step == 39_999 {
                let g = RepeatDetector.gram, w = RepeatDetector.window
                let starts = max(0, scalars.count - g + 1)
                var set = Set<[UInt32]>()
                for s in max(0, starts - w)..<starts { set.insert(Array(scalars[s..<s + g])) }
                #expect(detector.distinct == set.count, "at step \(step)")
            }
        }
    }

    @Test func watchEndsEveryUnfinishedChoiceWithRepeat() throws {
        var watch = RepeatWatch(settings: RepeatSettings(threshold: 0.5, minLength: 10))
        func chunk(_ index: Int, _ text: String, finish: String? = nil) throws -> JSONValue {
            let reason = finish.map { "\"\($0)\"" } ?? "null"
            return try JSONValue.parse(#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":\#(index),"delta":{"reasoning_content":"\#(text)"},"finish_reason":\#(reason)}]}"#)
        }
        _ = watch.feed(chunk: try chunk(0, "hello"))
        _ = watch.feed(chunk: try chunk(1, "bye", finish: "stop"))
        _ = watch.feed(chunk: try chunk(2, "x"))
        var trip: RepeatWatch.Trip?
        for _ in 0..<200 where trip == nil { trip = watch.feed(chunk: try chunk(0, "loop ")) }
        #expect(trip?.choice == 0)
        #expect(trip?.field == "reasoning_content")
        let finals = watch.finalChunks()
        #expect(finals.map { $0["choices"]?[0]?["index"]?.intValue } == [0, 2])
        #expect(finals.allSatisfy { $0["choices"]?[0]?["finish_reason"]?.stringValue == "repeat" && $0["id"]?.stringValue == "c1" })
    }

    @Test func tapCutsAfterTheTrippingEventAndEndsWithDone() throws {
        var tap = StreamTap(contentType: "text/event-stream")
        tap.repeatWatch = RepeatWatch(settings: RepeatSettings(threshold: 0.5, minLength: 10))
        var bytes: [UInt8] = []
        for _ in 0..<100 {
            bytes += Array(#"data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"again "}}]}"#.utf8) + [10, 10]
        }
        tap.feed(bytes[0..<1234], now: 1)
        tap.feed(bytes[1234...], now: 2)
        let cut = try #require(tap.cutAt)
        #expect(cut < bytes.count)
        #expect(bytes[cut - 2] == 10 && bytes[cut - 1] == 10)   // ends exactly after an event
        let tail = String(decoding: tap.repeatTail(), as: UTF8.self)
        #expect(tail.hasSuffix("data: [DONE]\n\n"))
        #expect(tail.contains(#""finish_reason":"repeat""#))
        tap.finish(now: 3)
        #expect(tap.facts?.finishReasons == ["repeat"])
    }
}

@Suite struct ForceStreamTests {
    func rewritten(_ text: String) throws -> JSONValue? {
        guard let out = ForceStream.rewrite(Array(text.utf8)) else { return nil }
        return try JSONValue.parse(out)
    }

    @Test func emptyObjectAndNullStreamBecomeValidStreamingRequests() throws {
        for body in ["{}", #"{"stream": null, "model": "k"}"#, #"{"model":"k","stream":false}"#] {
            let v = try #require(try rewritten(body))
            #expect(v["stream"]?.boolValue == true)
            #expect(v["stream_options"]?["include_usage"]?.boolValue == true)
            if case .object(let o) = v { #expect(o.keys.filter { $0 == "stream" }.count == 1) }
        }
    }

    @Test func otherStreamOptionsAndMembersAreKept() throws {
        let v = try #require(try rewritten(#"{"model":"k","temperature":0.30,"stream_options":{"x":1},"messages":[]}"#))
        #expect(v["stream_options"]?["x"]?.intValue == 1)
        #expect(v["temperature"]?.numberText == "0.30")
        #expect(v["model"]?.stringValue == "k")
    }

    /// The usual body is edited as bytes: the client's bytes kept exactly, the two members appended at the end of the
    /// top-level object; the result reads the same as the tree edit's. Bodies it cannot decide go the tree way.
    @Test func usualBodiesAreEditedAsBytesWithTheTreeEditsMeaning() throws {
        let usual = [
            #"{"model":"moonshot-v1-8k","messages":[{"role":"user","content":"Explain the phases of the moon."}]}"#,
            #"{}"#, " { } ", "{\n  \"model\": \"k\",\n  \"temperature\": 0.30e0\n}\n",
            #"{"model":"k","messages":[{"role":"user","content":"\u6708 \"quoted\" stream"}],"n":2}"#,
            #"{"model":"k","extra":{"stream":false,"stream_options":1}}"#,
        ]
        for body in usual {
            let bytes = Array(body.utf8)
            guard case .rewritten(let out) = bytes.withUnsafeBufferPointer({ StreamRequestEdit.appendingStreamMembers($0) }) else {
                Issue.record("not edited as bytes: \(body)")
                continue
            }
            let close = bytes.lastIndex(of: UInt8(ascii: "}"))!
            #expect(Array(out[..<close]) == Array(bytes[..<close]), "client bytes kept: \(body)")
            #expect(Array(out.suffix(bytes.count - close)) == Array(bytes[close...]))
            let edited = try JSONValue.parse(out)
            guard case .object(var tree)? = try? JSONValue.parse(bytes) else { Issue.record("\(body)"); continue }
            tree.set("stream", .bool(true))
            tree.set("stream_options", .object({ var o = JSONObject(); o.set("include_usage", .bool(true)); return o }()))
            #expect(edited == .object(tree), "\(body)")
            #expect(ForceStream.rewrite(bytes) == out)
        }
        let undecided = [
            #"{"stream":false}"#, #"{"model":"k","stream_options":{"x":1}}"#, #"{"a":1,"a":2}"#,
            #"{"str\u0065am":true}"#, "{not json", #"{"a":1} x"#,
        ]
        for body in undecided {
            #expect(Array(body.utf8).withUnsafeBufferPointer { StreamRequestEdit.appendingStreamMembers($0) } == .undecided, "\(body)")
        }
        for body in ["[1]", "7", #""s""#, "null"] {
            #expect(Array(body.utf8).withUnsafeBufferPointer { StreamRequestEdit.appendingStreamMembers($0) } == .notAnObject)
            #expect(ForceStream.rewrite(Array(body.utf8)) == nil)
        }
        // An escaped `stream` key set to true is still a streaming request (the tree decides, as before).
        #expect(ForceStream.rewrite(Array(#"{"str\u0065am":true}"#.utf8)) == nil)
    }

    @Test func streamingNonObjectAndInvalidBodiesAreLeftAlone() throws {
        #expect(ForceStream.rewrite(Array(#"{"stream":true}"#.utf8)) == nil)
        #expect(ForceStream.rewrite(Array("[1]".utf8)) == nil)
        #expect(ForceStream.rewrite(Array("{not json".utf8)) == nil)
    }

    @Test func onlyChatCompletionPostsQualify() {
        #expect(ForceStream.isChatCompletion(method: "POST", target: "/v1/chat/completions"))
        #expect(ForceStream.isChatCompletion(method: "POST", target: "/v1/chat/completions?x=1"))
        #expect(!ForceStream.isChatCompletion(method: "GET", target: "/v1/chat/completions"))
        #expect(!ForceStream.isChatCompletion(method: "POST", target: "/v1/completions"))
        #expect(ForceStream.isChatCompletion(method: "POST", target: "/v1/chat/completions//"))
        #expect(ForceStream.isChatCompletion(method: "POST", target: "/chat/completions?a=/b?c"))
        #expect(!ForceStream.isChatCompletion(method: "POST", target: "/v1/chat/completions-x"))
        #expect(!ForceStream.isChatCompletion(method: "POST", target: "/v1/x?/chat/completions"))
        #expect(!ForceStream.isChatCompletion(method: "POST", target: "chat/completions"))
        #expect(!ForceStream.isChatCompletion(method: "POST", target: ""))
        #expect(!ForceStream.isChatCompletion(method: "post", target: "/v1/chat/completions"))
    }

    @Test func truncationWarningNamesMaxTokensAndANumber() {
        let text = TruncationWarning.text(completionTokens: 300, choices: 1)
        #expect(text.contains("max_tokens"))
        #expect(text.contains("greater than 300"))
        #expect(text.contains("max_tokens=768"))
        #expect(TruncationWarning.text(completionTokens: 400, choices: 2).contains("greater than 200"))
    }
}
