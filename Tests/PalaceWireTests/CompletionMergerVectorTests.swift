import Testing
@testable import PalaceWire

/// MoonPalace's merger test vector (reference §6.5), reconstructed: 38 chunks of one completion with two
/// interleaved choices, each calling `search` with arguments streamed in 16 fragments (newlines, quotes, Chinese),
/// then a final chunk with `finish_reason: "tool_calls"` and Moonshot's choice-level usage.
@Suite struct CompletionMergerVectorTests {
    static let head = #"{"id":"chatcmpl-7a79a4d6b5e0c2f1","object":"chat.completion.chunk","created":1718352000,"model":"moonshot-v1-128k","choices":["#

    static let fragments: [[String]] = [
        ["{\n", "    \"", "query", "\":", " \"", "月之", "暗面", " Kimi", " \\\"", "长", "文本", "\\\"", " 能力", "\",\n", "    \"num\": 3", "\n}"],
        ["{\n", "    \"", "query", "\":", " \"", "Moonshot", " AI", " 的", "\\\"", "上下文", "缓存", "\\\"", " 价格", "\",\n", "    \"num\": 5", "\n}"],
    ]

    static func chunk(_ choice: String) -> String { head + choice + "]}" }

    static func jsonString(_ s: String) -> String { JSONValue.string(s).serialized() }

    /// The 19 chunks of one choice, in order.
    static func choiceChunks(_ i: Int, completion: Int) -> [String] {
        var out = [chunk(#"{"index":\#(i),"delta":{"role":"assistant","content":""},"finish_reason":null}"#)]
        out.append(chunk(#"{"index":\#(i),"delta":{"tool_calls":[{"index":0,"id":"search:0","type":"function","function":{"name":"search","arguments":""}}]},"finish_reason":null}"#))
        for f in fragments[i] {
            out.append(chunk(#"{"index":\#(i),"delta":{"tool_calls":[{"index":0,"function":{"arguments":\#(jsonString(f))}}]},"finish_reason":null}"#))
        }
        out.append(chunk(#"{"index":\#(i),"delta":{},"finish_reason":"tool_calls","usage":{"prompt_tokens":146,"completion_tokens":\#(completion),"total_tokens":\#(146 + completion)}}"#))
        return out
    }

    /// Interleaved like the original: the two choices alternate chunk by chunk.
    static var chunks: [String] {
        let a = choiceChunks(0, completion: 26), b = choiceChunks(1, completion: 25)
        return zip(a, b).flatMap { [$0, $1] }
    }

    static let expected = #"""
    {"id":"chatcmpl-7a79a4d6b5e0c2f1","object":"chat.completion","created":1718352000,"model":"moonshot-v1-128k","choices":[{"index":0,"message":{"role":"assistant","content":"","tool_calls":[{"id":"search:0","type":"function","function":{"name":"search","arguments":"{\n    \"query\": \"月之暗面 Kimi \\\"长文本\\\" 能力\",\n    \"num\": 3\n}"}}]},"finish_reason":"tool_calls"},{"index":1,"message":{"role":"assistant","content":"","tool_calls":[{"id":"search:0","type":"function","function":{"name":"search","arguments":"{\n    \"query\": \"Moonshot AI 的\\\"上下文缓存\\\" 价格\",\n    \"num\": 5\n}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":146,"completion_tokens":51,"total_tokens":197}}
    """#

    @Test func mergesTheReferenceVector() throws {
        #expect(Self.chunks.count == 38)
        var merger = CompletionMerger()
        for c in Self.chunks { try merger.add(sseData: c) }
        try merger.add(sseData: "[DONE]")
        #expect(merger.chunkCount == 38)
        let result = merger.result()
        #expect(result.serialized() == Self.expected)
        // The arguments are themselves valid JSON once joined.
        let args = result.value(atPath: "choices.1.message.tool_calls.0.function.arguments")?.stringValue ?? ""
        #expect(try JSONValue.parse(args)["query"] == "Moonshot AI 的\"上下文缓存\" 价格")
        let facts = CompletionFacts.of(result)
        #expect(facts.usage == WireUsage(promptTokens: 146, completionTokens: 51, totalTokens: 197))
        #expect(facts.orderedFinishReasons == ["tool_calls", "tool_calls"])
        #expect(facts.id == "chatcmpl-7a79a4d6b5e0c2f1" && facts.object == "chat.completion")
    }

    @Test func choiceUsageOfOneChunkGivesTheSameFactsAsTheMerge() throws {
        var merger = CompletionMerger()
        var usageFromChunks: [WireUsage] = []
        for c in Self.chunks {
            let v = try JSONValue.parse(c)
            merger.add(chunk: v)
            if let u = CompletionFacts.of(v).usage { usageFromChunks.append(u) }
        }
        #expect(usageFromChunks.map(\.completionTokens) == [26, 25])
        #expect(CompletionFacts.of(merger.result()).usage?.totalTokens == 197)
    }
}
