import Testing
@testable import PalaceWire

@Suite struct CompletionFactsTests {
    @Test func usageFromTopLevelBeatsChoiceLevel() throws {
        let v = try JSONValue.parse(#"{"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}}"#)
        let f = CompletionFacts.of(v)
        #expect(f.usage == WireUsage(promptTokens: 10, completionTokens: 20, totalTokens: 30))
        #expect(f.finishReasons == [0: "stop"] && f.id == "c1" && f.model == "m")
    }

    @Test func choiceLevelUsageAndCachedTokensInBothForms() throws {
        let moonshot = try JSONValue.parse(#"{"choices":[{"index":0,"delta":{},"finish_reason":"length","usage":{"prompt_tokens":100,"completion_tokens":5,"total_tokens":105,"cached_tokens":64}}]}"#)
        #expect(CompletionFacts.of(moonshot).usage == WireUsage(promptTokens: 100, completionTokens: 5, totalTokens: 105, cachedTokens: 64))
        let openai = try JSONValue.parse(#"{"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":32}}}"#)
        #expect(CompletionFacts.of(openai).usage == WireUsage(promptTokens: 100, completionTokens: 5, totalTokens: 105, cachedTokens: 32))
        #expect(WireUsage(["foo": 1]) == nil)
        #expect(CompletionFacts.of(try JSONValue.parse(#"{"usage":null,"choices":[]}"#)).usage == nil)
    }

    @Test(arguments: [
        (#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#, false),
        (#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#, true),
        (#"{"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}"#, true),
        (#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":""}}]}}]}"#, false),
        (#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}}]}"#, true),
        (#"{"choices":[{"index":0,"finish_reason":"stop"}]}"#, false),
        (#"{"choices":[{"index":0,"message":{"role":"assistant","content":"full"}}]}"#, true),
        (#"{"choices":[{"index":0,"delta":{"content":null}},{"index":1,"delta":{"content":"x"}}]}"#, true),
        ("[1]", false),
    ])
    func hasOutputForTTFT(json: String, expected: Bool) throws {
        #expect(CompletionFacts.of(try JSONValue.parse(json)).hasOutput == expected)
    }

    @Test func finishReasonsByIndexAndInOrder() throws {
        let v = try JSONValue.parse(#"{"choices":[{"index":2,"finish_reason":"length"},{"index":0,"finish_reason":"stop"},{"index":1,"finish_reason":null}]}"#)
        let f = CompletionFacts.of(v)
        #expect(f.finishReasons == [2: "length", 0: "stop"])
        #expect(f.orderedFinishReasons == ["stop", "length"])
    }
}

@Suite struct ServerTimingTests {
    @Test(arguments: [
        ("inner; dur=1033", 1033.0),
        ("inner;dur=12.5", 12.5),
        ("cache;desc=\"Cache Read\";dur=23.2, db;dur=53", 23.2),
        ("miss, db;dur=53, app;dur=47.2", 53.0),
        ("total; DUR=\"7\"", 7.0),
        ("  inner ;  dur = 0 ", 0.0),
    ])
    func durations(header: String, expected: Double) {
        #expect(ServerTiming.durationMs(header) == expected)
    }

    @Test(arguments: ["", "inner", "inner; desc=x", "inner; dur=", "inner; dur=abc", "inner; dur=-3", "inner; dur=inf", "dur=5"])
    func noDuration(header: String) {
        #expect(ServerTiming.durationMs(header) == nil)
    }

    /// The byte-level fast path answers exactly like the Substring-based parser, on generated headers.
    @Test func fastPathAgreesWithSlowPath() {
        let pieces = ["inner", "db", ";", ";;", ",", ", ", " ", "\t", "dur", "DUR", "Dur ", "=", " = ", "desc=x", "0", "12",
                      "12.5", ".5", "5.", "1e3", "-3", "inf", "nan", "0x10", "\"", "1033.000", "123456789012345678",
                      "0.1234567890123456", "é", "dur=7", "q=1"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            var header = ""
            for _ in 0..<Int.random(in: 0...9, using: &generator) { header += pieces.randomElement(using: &generator)! }
            let fast = ServerTiming.durationMs(header)
            let slow = ServerTiming.slowDurationMs(header)
            #expect(fast == slow, "\(header)")
            if fast != slow { return }
        }
    }
}
