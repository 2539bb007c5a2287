import Testing
import PalaceLog
import PalaceWire
@testable import PalaceProxy

@Suite struct ReplayTests {
    func request(_ body: String) -> ReplayRequest {
        ReplayRequest(originalID: 7, begin: ExchangeBegin(
            startedAt: 0, method: "POST", target: "/v1/chat/completions", endpoint: "https://api.moonshot.cn",
            requestHeaders: [HeaderField(name: "Authorization", value: "Bearer ****abcd"),
                             HeaderField(name: "Content-Type", value: "application/json"),
                             HeaderField(name: "Accept-Encoding", value: "gzip"),
                             HeaderField(name: "X-MoonPalace-Control", value: "old")]), requestBody: Array(body.utf8), key: "sk-new")
    }

    @Test func setEditsTheBodyByJSONPath() throws {
        var r = request(#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}],"temperature":0.7}"#)
        try r.apply(sets: ["temperature=0", "messages.-1.content=Say \"hi\"", "response_format={\"type\":\"json_object\"}",
                           "stream_options.include_usage=true"])
        #expect(String(decoding: r.body, as: UTF8.self)
                == #"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"Say \"hi\""}],"temperature":0,"response_format":{"type":"json_object"},"stream_options":{"include_usage":true}}"#)
        #expect(r.headers.map(\.name) == ["Content-Type", "Authorization"])
        #expect(r.headers.last?.value == "Bearer sk-new")
        #expect(throws: ReplayError.self) { try r.apply(sets: ["novalue"]) }
        #expect(throws: ReplayError.self) { try r.apply(sets: ["messages.5.content=x"]) }
        var notJSON = request("plain")
        #expect(throws: ReplayError.self) { try notJSON.apply(sets: ["a=1"]) }
    }

    @Test func controlHeadersAreStrippedAndTheLinkNeedsTheToken() {
        var headers = [HeaderField(name: "X-MoonPalace-Control", value: "tok"),
                       HeaderField(name: "X-MoonPalace-Replay-Of", value: "12; nonce=abc"),
                       HeaderField(name: "Content-Type", value: "application/json")]
        var copy = headers
        #expect(ControlChannel.takeLink(&headers, token: "tok") == [HeaderField(name: "replay_of", value: "12"),
                                                                    HeaderField(name: "replay_nonce", value: "abc")])
        #expect(headers.map(\.name) == ["Content-Type"])
        #expect(ControlChannel.takeLink(&copy, token: "other").isEmpty && copy.count == 1)
    }

    @Test func everyMoonPalaceHeaderIsStrippedWhateverItsCase() {
        var headers = ["X-MOONPALACE-Other", "x-moonpalace-", "X-MoonPalace", "x-moonpalacex", "X-Moonpalace-Replay-Of",
                       "Accept", "x-moon"].map { HeaderField(name: $0, value: "1") }
        #expect(ControlChannel.takeLink(&headers, token: nil).isEmpty)
        #expect(headers.map(\.name) == ["X-MoonPalace", "x-moonpalacex", "Accept", "x-moon"])
        var none = [HeaderField(name: "Content-Type", value: "a")]
        #expect(ControlChannel.takeLink(&none, token: "t").isEmpty && none.count == 1)
    }

    @Test func factsAndDiffOfStreamAndJSON() {
        let sse = Array(("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
            + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}\n\ndata: [DONE]\n\n").utf8)
        let a = ResponseFacts(status: 200, body: sse, stream: true)
        #expect(a.content == "Hello" && a.finishReason == "length" && a.usage?.totalTokens == 3)
        let b = ResponseFacts(status: 200, body: Array(#"{"choices":[{"index":0,"message":{"content":"Hello"},"finish_reason":"stop"}]}"#.utf8))
        let d = ResponseFacts.diff(original: a, replay: b)
        #expect(d.contains("status         = 200") && d.contains("finish_reason  length → stop"))
        #expect(d.contains("content        = (same, 5 characters)"))
    }
}
