import PalaceWire
import Testing
@testable import PalaceProxy

@Suite struct StreamTapTests {
    static let events = [
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"kimi","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"kimi","choices":[{"index":0,"delta":{"content":"Hel"}}]}"#,
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"kimi","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"length","usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}]}"#,
    ]
    static var stream: [UInt8] {
        Array((events.map { "data: \($0)\n\n" }.joined() + "data: [DONE]").utf8)   // last event without its blank line
    }

    @Test func factsAndMergeSurviveAnySplit() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var tap = StreamTap(contentType: "text/event-stream; charset=utf-8")
            var i = 0
            var clock: UInt64 = 1
            let bytes = Self.stream
            while i < bytes.count {
                let n = Int.random(in: 1...40, using: &generator)
                tap.feed(bytes[i..<min(i + n, bytes.count)], now: clock)
                clock += 1
                i += n
            }
            tap.finish(now: clock)
            let facts = try #require(tap.facts)
            #expect(facts.id == "chatcmpl-1")
            #expect(facts.model == "kimi")
            #expect(facts.usage?.completionTokens == 2)
            #expect(facts.finishReasons == ["length"])
            #expect(tap.firstOutputNanos != nil)
            let mergedBytes = tap.mergedCompletion()
            let merged = try JSONValue.parse(try #require(mergedBytes))
            #expect(merged["object"]?.stringValue == "chat.completion")
            #expect(merged["choices"]?[0]?["message"]?["content"]?.stringValue == "Hello")
        }
    }

    @Test func ttftIsTheFirstEventWithOutput() {
        var tap = StreamTap(contentType: "text/event-stream")
        let parts = Self.events.map { Array("data: \($0)\n\n".utf8) }
        tap.feed(parts[0], now: 10)
        #expect(tap.firstOutputNanos == nil)
        tap.feed(parts[1], now: 20)
        tap.feed(parts[2], now: 30)
        #expect(tap.firstOutputNanos == 20)
    }

    @Test func jsonBodyGivesFactsAndErrorEventsAreKept() {
        var json = StreamTap(contentType: "application/json")
        json.feed(Array(#"{"id":"chatcmpl-9","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#.utf8), now: 1)
        json.finish(now: 2)
        #expect(json.facts?.id == "chatcmpl-9" && json.facts?.usage?.totalTokens == 2)
        let noMerge = json.mergedCompletion()
        #expect(noMerge == nil)

        var sse = StreamTap(contentType: "text/event-stream")
        sse.feed(Array("data: {\"error\":{\"message\":\"overloaded\"}}\n\n".utf8), now: 1)
        sse.finish(now: 2)
        #expect(sse.streamError?.contains("overloaded") == true)
        #expect(sse.facts == nil)
    }

    /// The media type decides (parameters, surrounding blanks and ASCII case do not).
    @Test func contentTypeIsReadAsAMediaType() {
        for type in ["text/event-stream", "Text/Event-Stream; charset=utf-8", " text/event-stream ;x=1", "\ttext/event-stream\t"] {
            #expect(StreamTap(contentType: type).isSSE, "\(type)")
        }
        for type in [nil, "", "text/event-streams", "text/event", "application/json", "text/event-stream-x; a=b", ";text/event-stream"] {
            #expect(!StreamTap(contentType: type).isSSE, "\(String(describing: type))")
        }
        #expect(StreamTap.mediaType("Application/JSON; charset=utf-8", is: "application/json"))
        #expect(!StreamTap.mediaType("application/jsonx", is: "application/json"))
        var json = StreamTap(contentType: " APPLICATION/json ")
        json.feed(Array(#"{"id":"x","object":"chat.completion","choices":[]}"#.utf8), now: 1)
        json.finish(now: 2)
        #expect(json.facts?.id == "x")
    }

    @Test func otherBodiesAreLeftAlone() {
        var tap = StreamTap(contentType: "application/octet-stream")
        tap.feed([1, 2, 3], now: 1)
        tap.finish(now: 2)
        #expect(tap.facts == nil && !tap.isSSE)
    }

    /// `[DONE]` is noted once its event is complete (a client leaving after it got the whole stream).
    @Test func doneIsNotedOnceItsEventIsComplete() {
        var tap = StreamTap(contentType: "text/event-stream")
        let bytes = Array((Self.events.map { "data: \($0)\n\n" }.joined() + "data: [DONE]\n\n").utf8)
        tap.feed(bytes[0..<(bytes.count - 3)], now: 1)
        #expect(!tap.sawDone)
        tap.feed(bytes[(bytes.count - 3)...], now: 2)
        #expect(tap.sawDone)
    }
}
