import Testing
@testable import PalaceWire

/// The one-pass path (`addFast`, taken first by `add(streamChunk:)` and `add(json:)`) against the tree-based merge
/// it must equal: `add(chunk: JSONValue.parse(…))` then `result().serializedBytes()`, with the observer calls of
/// `CompletionMerger.observe`. Streams are generated with every escape style a server may use (short escapes,
/// `\uXXXX` for anything, surrogate pairs, lone surrogates, `\/`, raw UTF-8), tool-call fragments with and
/// without `index`, several choices, reasoning, `null` members, repeated roles, members in unusual order, pretty
/// whitespace, and usage either inside a choice or at the top level.
@Suite struct CompletionMergerFastTests {
    /// Writes `s` as a JSON string literal, choosing an escape style per scalar at random.
    static func literal(_ s: String, using rng: inout SplitMix64) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            let style = Int.random(in: 0..<6, using: &rng)
            func hex(_ v: UInt32) -> String {
                let h = String(v, radix: 16, uppercase: Bool.random(using: &rng))
                return "\\u" + String(repeating: "0", count: 4 - h.count) + h
            }
            switch scalar {
            case "\"": out += style < 3 ? "\\\"" : hex(0x22)
            case "\\": out += style < 3 ? "\\\\" : hex(0x5C)
            case "\n": out += style < 3 ? "\\n" : hex(0x0A)
            case "\t": out += style < 3 ? "\\t" : hex(0x09)
            case "\r": out += "\\r"
            case "/": out += style == 0 ? "\\/" : "/"
            case _ where scalar.value < 0x20: out += hex(scalar.value)
            case _ where scalar.value >= 0x10000 && style == 0:
                let v = scalar.value - 0x10000
                out += hex(0xD800 + (v >> 10)) + hex(0xDC00 + (v & 0x3FF))
            case _ where scalar.value >= 0x80 && scalar.value < 0x10000 && style == 0:
                out += hex(scalar.value)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        // Now and then a lone surrogate (decoded as U+FFFD, as the parser does).
        if Int.random(in: 0..<25, using: &rng) == 0 { out += Bool.random(using: &rng) ? "\\ud83d" : "\\uDE00" }
        return out + "\""
    }

    static let pieces = ["Hello", " world", "你好", "，世界", "😀", "👩‍👩‍👧", "\"quoted\"", "\n", "\\", "\t", "don't",
                         "{json}", "</script>", "月之暗面", "é", " ", "1.50", "\u{2028}", "a/b", "\u{1}", "\r\n", ""]

    static func text(using rng: inout SplitMix64) -> String {
        (0..<Int.random(in: 0...3, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
    }

    /// One random stream as JSON texts.
    static func stream(using rng: inout SplitMix64) -> [String] {
        let n = Int.random(in: 1...3, using: &rng)
        let pretty = Int.random(in: 0..<6, using: &rng) == 0
        let sp = pretty ? " \n" : ""
        let head = "\"id\":\(sp)\"chatcmpl-\(Int.random(in: 0..<9, using: &rng))\",\"object\":\"chat.completion.chunk\",\"created\":\(sp)1700000000,\"model\":\"kimi-k2\""
        let headLast = Int.random(in: 0..<5, using: &rng) == 0   // `choices` before the top-level members
        let withLogprobs = Int.random(in: 0..<4, using: &rng) == 0
        let usageInChoice = Bool.random(using: &rng)
        var chunks: [String] = []
        let modelChanges = Int.random(in: 0..<3, using: &rng) == 0
        func chunk(_ choices: [String], extra: String = "") -> String {
            let list = "\"choices\":\(sp)[" + choices.joined(separator: ",\(sp)") + "]"
            // Now and then the model changes mid-stream (and back): the remembered prefix must not hide it.
            let model = modelChanges && Int.random(in: 0..<4, using: &rng) == 0 ? "kimi-k2-\(Int.random(in: 0..<2, using: &rng))" : "kimi-k2"
            let top = head.replacing("\"kimi-k2\"", with: "\"\(model)\"")
            let body = headLast ? list + "," + top : top + ",\(sp)" + list
            return "{" + sp + body + extra + sp + "}" + (pretty ? "\n" : "")
        }
        func choice(_ i: Int, _ delta: String, finish: String = "null", usage: String? = nil) -> String {
            var members = ["\"delta\":\(sp)\(delta)", "\"finish_reason\":\(finish)"]
            if withLogprobs { members.append("\"logprobs\":null") }
            if Int.random(in: 0..<8, using: &rng) != 0 {
                members.insert("\"index\":\(sp)\(i)", at: Int.random(in: 0...members.count, using: &rng))
            } else if i != 0 {
                members.insert("\"index\":\(i)", at: 0)
            }
            if let usage { members.append("\"usage\":" + usage) }
            return "{" + members.joined(separator: ",\(sp)") + "}"
        }
        // Role chunks, then interleaved deltas.
        for i in 0..<n { chunks.append(chunk([choice(i, #"{"role":"assistant","content":""}"#)])) }
        var calls = Array(repeating: 0, count: n)
        for _ in 0..<Int.random(in: 0...40, using: &rng) {
            var batch: [String] = []
            for i in 0..<n where Int.random(in: 0..<3, using: &rng) != 0 || batch.isEmpty && i == n - 1 {
                let delta: String
                switch Int.random(in: 0..<10, using: &rng) {
                case 0...3: delta = "{\"content\":\(sp)\(literal(text(using: &rng), using: &rng))}"
                case 4: delta = "{\"reasoning_content\":\(literal(text(using: &rng), using: &rng)),\"content\":null}"
                case 5: delta = "{\"content\":\(literal(text(using: &rng), using: &rng)),\"reasoning_content\":null}"
                case 6: delta = "{\"role\":\"assistant\",\"content\":\(literal(text(using: &rng), using: &rng))}"
                case 7:
                    calls[i] += 1
                    delta = "{\"tool_calls\":[{\"index\":\(calls[i] - 1),\"id\":\"call_\(i)_\(calls[i])\",\"type\":\"function\",\"function\":{\"name\":\"f\(calls[i])\",\"arguments\":\"\"}}]}"
                case 8 where calls[i] > 0:
                    let args = literal("{\"q\": " + text(using: &rng), using: &rng)
                    let index = Bool.random(using: &rng) ? "\"index\":\(calls[i] - 1)," : ""
                    delta = "{\"tool_calls\":[{\(index)\"function\":{\"arguments\":\(sp)\(args)}}]}"
                case 9: delta = "{}"
                default: delta = "{\"content\":\(literal(text(using: &rng), using: &rng))}"
                }
                batch.append(choice(i, delta))
            }
            chunks.append(chunk(batch))
        }
        let usage = #"{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16}"#
        for i in 0..<n {
            chunks.append(chunk([choice(i, "{}", finish: "\"stop\"", usage: usageInChoice && i == n - 1 ? usage : nil)]))
        }
        if !usageInChoice { chunks.append("{" + head + ",\"choices\":[],\"usage\":" + usage + "}") }
        return chunks
    }

    @Test(arguments: 0..<300)
    func oneFastPassEqualsTheTreeMerge(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed) &* 6_364_136_223 &+ 7)
        let chunks = Self.stream(using: &rng)
        var tree = CompletionMerger()
        var bytes = CompletionMerger()
        var treeTexts: [String] = [], treeChoices: [String] = []
        var byteTexts: [String] = [], byteChoices: [String] = []
        var fastTaken = 0, deltas = 0
        for chunk in chunks {
            guard let value = try? JSONValue.parse(chunk) else {
                Issue.record("generated chunk is not JSON: \(chunk)")
                return
            }
            CompletionMerger.observe(value, onChoice: { treeChoices.append("\($0):\($1)") },
                                     onText: { treeTexts.append("\($0)\($1):" + String(decoding: $2, as: UTF8.self)) })
            tree.add(chunk: value)
            var text = chunk
            text.withUTF8 { data in
                var probe = bytes
                if probe.addFast(data, onChoice: { _, _ in }, onText: { _, _, _ in }) != nil { fastTaken += 1 }
                _ = bytes.add(streamChunk: data, onChoice: { byteChoices.append("\($0):\($1)") },
                              onText: { byteTexts.append("\($0)\($1):" + String(decoding: $2, as: UTF8.self)) })
            }
            if !chunk.contains("\"role\"") && !chunk.contains("\"stop\"") && !chunk.contains("\"id\":\"call") { deltas += 1 }
        }
        let expected = tree.result().serializedBytes()
        #expect(bytes.resultBytes() == expected,
                "seed \(seed)\nexpected \(String(decoding: expected, as: UTF8.self))\nfast     \(String(decoding: bytes.resultBytes(), as: UTF8.self))")
        #expect(bytes.result() == tree.result())
        #expect(bytes.facts == tree.facts)
        #expect(bytes.chunkCount == tree.chunkCount)
        #expect(byteTexts == treeTexts, "seed \(seed)")
        #expect(byteChoices == treeChoices, "seed \(seed)")
        // The usual delta chunks do take the fast path (a regression to the general path fails here).
        let modelChanged = chunks.contains { $0.contains("kimi-k2-") }   // those chunks go the general way
        #expect(modelChanged || fastTaken >= deltas * 3 / 4, "seed \(seed): \(fastTaken) of \(deltas) delta chunks on the fast path")
    }

    /// Chunks the fast path must leave alone (it returns nil and changes nothing), after a usual first chunk.
    @Test func unusualChunksAreLeftToTheGeneralPath() {
        let first = #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#
        let refused = [
            #"{"id":"c","created":1,"model":"m","choices":[{"index":1,"delta":{"content":"new choice"}}]}"#,
            #"{"id":"d","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"new id"}}]}"#,
            #"{"id":"c","created":12,"model":"m","choices":[{"index":0,"delta":{"content":"longer number"}}]}"#,
            #"{"id":"c","created":1.5,"model":"m","choices":[{"index":0,"delta":{"content":"fraction"}}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"st\u006fp"}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":7}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{},"usage":[1]}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{},"usage":{"a":1,"a":2}}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{},"usage":{"a":}}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{},"usage":{"a":1},"usage":{"a":1}}]}"#,
            #"{"id":"c","choices":[],"usage":5}"#,
            #"{"id":"c","choices":[],"usage":{"prompt_tokens":1},"usage":null}"#,
            #"{"id":"c","choices":[],"usage":{"prompt_tokens":1"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"content":"x","content":"dup"}}]}"#,
            #"{"id":"c","id":"c","choices":[{"index":0,"delta":{"content":"x"}}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"con\u0074ent":"escaped key"}}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"content":7}}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"refusal":"no"}}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"role":"user","content":"other role"}}]}"#,
            #"{"id":"c","choices":[{"index":01,"delta":{"content":"leading zero"}}]}"#,
            #"{"id":"c","choices":[{"index":-0,"delta":{"content":"minus"}}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"content":"x"}}]} trailing"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"content":"bad \x"}}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"content":"bad \u12"}}]}"#,
            "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"raw\ttab\"}}]}",
            #"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"arguments":"{"}}]}}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{"}}]}}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[]}}]}"#,
            #"{"id":"c","choices":[{"index":0,"message":{"content":"message"}}]}"#,
            #"{"id":"c","choices":[{}]}"#,
            #"{"id":"c","error":{"message":"x"},"choices":[{"index":0,"delta":{"content":"x"}}]}"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"content":"x"}}]"#,
            #"{"id":"c","choices":[{"index":0,"delta":{"content":"x"},}]}"#,
        ]
        for chunk in refused {
            var merger = CompletionMerger()
            var text = first
            text.withUTF8 { _ = try? merger.add(json: $0) }
            let before = merger.resultBytes()
            var bad = chunk
            let taken = bad.withUTF8 { merger.addFast($0, onChoice: { _, _ in }, onText: { _, _, _ in }) }
            #expect(taken == nil, "\(chunk)")
            #expect(merger.resultBytes() == before && merger.chunkCount == 1, "\(chunk)")
        }
        // After a fast chunk remembered its bytes up to `choices`, the same bytes followed by something else.
        do {
            var merger = CompletionMerger()
            for chunk in [first, #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"}}]}"#] {
                var text = chunk
                text.withUTF8 { _ = try? merger.add(json: $0) }
            }
            #expect(merger.fastPrefix.count > 0)
            for tail in [#"{"index":0}}"#, #"[{"index":0,"delta":{"content":"b"}}],"model":"m"}"#, #""x"}"#, ""] {
                var chunk = #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":"# + tail
                let before = merger.resultBytes()
                let taken = chunk.withUTF8 { merger.addFast($0, onChoice: { _, _ in }, onText: { _, _, _ in }) }
                #expect(taken == nil && merger.resultBytes() == before, "\(chunk)")
            }
        }
        // Invalid UTF-8 inside a text (or a finish reason): refused too.
        var merger = CompletionMerger()
        var text = first
        text.withUTF8 { _ = try? merger.add(json: $0) }
        for bad: [UInt8] in [[0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80]] {
            let chunk = Array(#"{"id":"c","choices":[{"index":0,"delta":{"content":"ab"#.utf8) + bad + Array(#""}}]}"#.utf8)
            #expect(chunk.withUnsafeBufferPointer { merger.addFast($0, onChoice: { _, _ in }, onText: { _, _, _ in }) } == nil)
            let finish = Array(#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"s"#.utf8) + bad + Array(#""}]}"#.utf8)
            #expect(finish.withUnsafeBufferPointer { merger.addFast($0, onChoice: { _, _ in }, onText: { _, _, _ in }) } == nil)
        }
        #expect(merger.chunkCount == 1)
    }

    /// A chunk of the remembered shape (the last fast chunk with another token) merges on the fast path, and a merge
    /// on another path in between makes it be read in full again: the results always equal the tree merge's.
    @Test func sameShapeChunksMergeLikeTheTree() {
        let head = #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","#
        let chunks = [
            head + #""content":""},"finish_reason":null}]}"#,
            head + #""content":"a"},"finish_reason":null}]}"#,
            head + #""content":"b\n\u00e9"},"finish_reason":null}]}"#,
            head + #""content":"c"},"finish_reason":null}]}  "#,                                                // other tail
            head + #""content":"d"},"finish_reason":null}]}"#,
            #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"user","content":"e"},"finish_reason":null}]}"#,   // general path: role changes
            head + #""content":"f"},"finish_reason":null}]}"#,                                                  // must not take the remembered shape
            head + #""content":"g\"},"finish_reason":null}]}"#,                                                 // escaped quote
            head + #""content":"h"},"finish_reason":null}],"x":1}"#,
            head + #""content":"bad \x"},"finish_reason":null}]}"#,                                             // invalid: refused
            head + #""content":"i"},"finish_reason":null}]}"#,
        ]
        var tree = CompletionMerger()
        var bytes = CompletionMerger()
        var treeTexts: [String] = [], byteTexts: [String] = []
        for chunk in chunks {
            if let value = try? JSONValue.parse(chunk) {
                CompletionMerger.observe(value, onChoice: { _, _ in }, onText: { treeTexts.append("\($0)\($1):" + String(decoding: $2, as: UTF8.self)) })
                tree.add(chunk: value)
            }
            var text = chunk
            _ = text.withUTF8 { bytes.add(streamChunk: $0, onChoice: { _, _ in },
                                          onText: { byteTexts.append("\($0)\($1):" + String(decoding: $2, as: UTF8.self)) }) }
            #expect(bytes.resultBytes() == tree.result().serializedBytes(), "after \(chunk)")
            #expect(bytes.chunkCount == tree.chunkCount)
        }
        #expect(byteTexts == treeTexts)
        // The usual token chunks are recognised by their shape.
        var merger = CompletionMerger()
        for chunk in chunks[0..<3] { var t = chunk; _ = t.withUTF8 { merger.add(streamChunk: $0, onChoice: { _, _ in }, onText: { _, _, _ in }) } }
        #expect(merger.shapeTextStart > 0)
    }

    /// The chunks that end a stream — a choice's finish reason with Moonshot's per-choice usage, OpenAI's usage-only
    /// chunk with `choices: []`, a null usage — take the fast path too, with the tree merge's result and observer calls.
    @Test func finishAndUsageChunksTakeTheFastPath() {
        let first = #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null},{"index":1,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#
        let enders = [
            #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}"#,
            #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":1,"delta":{},"finish_reason":"length","usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{"cached_tokens":1}}}]}"#,
            #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":null,"usage":null,"logprobs":null}]}"#,
            #"{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
            #"{"usage":null,"id":"c","choices":[ ]}"#,
            #"{"usage":{"prompt_tokens":9},"id":"c","choices":[]}"#,
            #"{"usage":{"prompt_tokens":9},"id":"c","choices":[]}"#,
            #"{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":8}}"#,
        ]
        var tree = CompletionMerger()
        var bytes = CompletionMerger()
        var treeChoices: [String] = [], byteChoices: [String] = []
        for (n, chunk) in ([first] + enders).enumerated() {
            let value = try! JSONValue.parse(chunk)
            CompletionMerger.observe(value, onChoice: { treeChoices.append("\($0):\($1)") }, onText: { _, _, _ in })
            tree.add(chunk: value)
            var text = chunk
            let outcome = text.withUTF8 { data -> CompletionMerger.StreamChunk in
                var probe = bytes
                let fast = probe.addFast(data, onChoice: { _, _ in }, onText: { _, _, _ in })
                #expect(n == 0 || fast != nil, "not on the fast path: \(chunk)")
                return bytes.add(streamChunk: data, onChoice: { byteChoices.append("\($0):\($1)") }, onText: { _, _, _ in })
            }
            #expect(outcome == .merged(hasOutput: n == 1), "\(chunk)")
            #expect(bytes.resultBytes() == tree.result().serializedBytes(), "after \(chunk)")
        }
        #expect(bytes.facts == tree.facts)
        #expect(bytes.chunkCount == tree.chunkCount)
        #expect(byteChoices == treeChoices)
        #expect(bytes.facts.finishReasons == [0: "stop", 1: "length"])
        #expect(bytes.facts.usage?.totalTokens == 8)
    }
}
