import Testing
@testable import PalaceWire

@Suite struct CompletionMergerTests {
    func merge(_ chunks: [String]) throws -> JSONValue {
        var m = CompletionMerger()
        for c in chunks { try m.add(sseData: c) }
        return m.result()
    }

    @Test func thinkingStreamWithTopLevelUsage() throws {
        let result = try merge([
            #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"kimi-k2-thinking","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":""},"finish_reason":null}],"usage":null}"#,
            #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"kimi-k2-thinking","choices":[{"index":0,"delta":{"reasoning_content":"Let me "},"finish_reason":null}],"usage":null}"#,
            #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"kimi-k2-thinking","choices":[{"index":0,"delta":{"reasoning_content":"think."},"finish_reason":null}],"usage":null}"#,
            #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"kimi-k2-thinking","choices":[{"index":0,"delta":{"content":"42"},"finish_reason":null}],"usage":null}"#,
            #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"kimi-k2-thinking","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#,
            #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"kimi-k2-thinking","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}"#,
            "[DONE]",
        ])
        #expect(result.serialized() == #"{"id":"c","object":"chat.completion","created":1,"model":"kimi-k2-thinking","choices":[{"index":0,"message":{"role":"assistant","reasoning_content":"Let me think.","content":"42"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}"#)
    }

    @Test func openAIStreamGivesOpenAIsNonStreamShape() throws {
        let result = try merge([
            #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"gpt-4o","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"abc"}"#,
            #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"gpt-4o","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"xy"}"#,
            #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"gpt-4o","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#,
            #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"gpt-4o","service_tier":"default","system_fingerprint":"fp_1","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":1,"total_tokens":9,"prompt_tokens_details":{"cached_tokens":0}}}"#,
        ])
        #expect(result.serialized() == #"{"id":"chatcmpl-1","object":"chat.completion","created":7,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hi","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":1,"total_tokens":9,"prompt_tokens_details":{"cached_tokens":0}},"service_tier":"default","system_fingerprint":"fp_1"}"#)
    }

    @Test func toolCallsWithoutIndexAreRoutedById() throws {
        let result = try merge([
            #"{"choices":[{"delta":{"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{\"x\""}}]}}]}"#,
            #"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":":1}"}}]}}]}"#,
            #"{"choices":[{"delta":{"tool_calls":[{"id":"b","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
        ])
        #expect(result.value(atPath: "choices.0.message.content") == .null)
        #expect(result.value(atPath: "choices.0.message.tool_calls.0.function.arguments") == #"{"x":1}"#)
        #expect(result.value(atPath: "choices.0.message.tool_calls.1.id") == "b")
        #expect(result.value(atPath: "choices.0.message.tool_calls.1.type") == "function")
        #expect(result.value(atPath: "choices.0.message.tool_calls.0.index") == nil)
        #expect(result.value(atPath: "choices.0.finish_reason") == "tool_calls")
    }

    @Test func emptyAndPartialStreams() throws {
        #expect(CompletionMerger().result().serialized() == #"{"object":"chat.completion","choices":[]}"#)
        let cut = try merge([#"{"id":"c","choices":[{"index":0,"delta":{"content":"Hal"}}]}"#])
        #expect(cut.serialized() == #"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hal"},"finish_reason":null}]}"#)
    }

    @Test func emptyStringsDoNotEraseIdsAndNullsDoNotEraseValues() throws {
        let result = try merge([
            #"{"id":"c1","model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":null}]}"#,
            #"{"id":"","model":"","system_fingerprint":null,"choices":[{"index":0,"delta":{"role":"","content":"b"},"finish_reason":"stop"}]}"#,
            #"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":null}]}"#,
        ])
        #expect(result["id"] == "c1" && result["model"] == "m" && result["system_fingerprint"] == "fp")
        #expect(result.value(atPath: "choices.0.message.role") == "assistant")
        #expect(result.value(atPath: "choices.0.message.content") == "ab")
        #expect(result.value(atPath: "choices.0.finish_reason") == "stop")
    }

    @Test func nonJSONDataIsATypedErrorAndDoneIsIgnored() throws {
        var m = CompletionMerger()
        #expect(throws: JSONError.self) { try m.add(sseData: "{oops") }
        try m.add(sseData: " [DONE] ")
        try m.add(event: SSEEvent(data: "", hasData: false))
        #expect(m.chunkCount == 0 && m.isEmpty)
    }

    @Test func threeChoicesWithChoiceUsageFoldIntoOne() throws {
        var chunks: [String] = []
        for i in [2, 0, 1] {
            chunks.append(#"{"choices":[{"index":\#(i),"delta":{"role":"assistant","content":"c\#(i)"},"finish_reason":null}]}"#)
        }
        for (i, c) in [(1, 7), (0, 5), (2, 9)] {
            chunks.append(#"{"choices":[{"index":\#(i),"delta":{},"finish_reason":"stop","usage":{"prompt_tokens":50,"completion_tokens":\#(c),"total_tokens":\#(50 + c),"cached_tokens":8}}]}"#)
        }
        let result = try merge(chunks)
        #expect(result["choices"]?.arrayValue?.map { $0["index"]?.intValue } == [0, 1, 2])
        #expect(result["usage"]?.serialized() == #"{"prompt_tokens":50,"completion_tokens":21,"total_tokens":71,"cached_tokens":8}"#)
        #expect(result.value(atPath: "choices.0.usage") == nil)
    }
}
