import Testing
@testable import PalaceWire

/// Law: split any chat.completion into stream chunks the way a server does, send them through the SSE encoder
/// and parser in random reads, merge → the original completion, member order included.
@Suite struct CompletionMergerPropertyTests {
    @Test(arguments: 0..<400)
    func splitThenMergeGivesTheOriginalBack(seed: Int) throws {
        var rng = SplitMix64(seed: UInt64(seed) &* 7919 &+ 17)
        let completion = CompletionGenerator.completion(using: &rng)
        let chunks = CompletionGenerator.split(completion, using: &rng)

        var stream: [UInt8] = []
        for chunk in chunks { stream += SSEEncoder.encode(json: chunk) }
        stream += SSEEncoder.done

        var parser = SSEParser()
        var merger = CompletionMerger()
        var at = 0
        while at < stream.count {
            let n = Int.random(in: 1...max(1, min(300, stream.count - at)), using: &rng)
            for event in parser.feed(stream[at..<at + n]) { try merger.add(event: event) }
            at += n
        }
        if let last = parser.finish() { try merger.add(event: last) }

        let merged = merger.result()
        #expect(merger.chunkCount == chunks.count)
        #expect(merged == completion, "seed \(seed)\nexpected \(completion.serialized())\nmerged   \(merged.serialized())")
        #expect(CompletionFacts.of(merged).usage == WireUsage(completion["usage"]!))
    }
}

/// Random completions and a server-like splitter for the property test.
enum CompletionGenerator {
    static let pieces = ["Hello", " world", "你好", "，世界", "😀", "👩‍👩‍👧", "\"quoted\"", "\n", "\\", "\t", "don't",
                         "{json}", "</script>", "月之暗面", "é", " ", "1.50", "\u{2028}"]

    static func text(_ maxPieces: Int, using rng: inout SplitMix64) -> String {
        (0..<Int.random(in: 0...maxPieces, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
    }

    static func arguments(using rng: inout SplitMix64) -> String {
        var args = JSONObject()
        for k in 0..<Int.random(in: 0...3, using: &rng) {
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: args.set("q\(k)", .string(text(4, using: &rng)))
            case 1: args.set("n\(k)", .number(Int.random(in: -5...1000, using: &rng)))
            default: args.set("l\(k)", [true, .null, .number("2.50")])
            }
        }
        return JSONValue.object(args).serialized(pretty: Bool.random(using: &rng))
    }

    static func completion(using rng: inout SplitMix64) -> JSONValue {
        let n = Int.random(in: 1...3, using: &rng)
        let withLogprobs = Int.random(in: 0..<4, using: &rng) == 0
        var choices: [JSONValue] = []
        var completionTokens = 0
        for i in 0..<n {
            var message: JSONObject = ["role": "assistant", "content": .string(text(8, using: &rng))]
            if Bool.random(using: &rng) { message.set("reasoning_content", .string(text(6, using: &rng))) }
            let callCount = Int.random(in: 0...3, using: &rng)
            if callCount > 0 {
                message.set("tool_calls", .array((0..<callCount).map { k in
                    ["id": .string("call_\(i)_\(k)"), "type": "function",
                     "function": ["name": .string(["search", "get_weather", "$web_search"][k]),
                                  "arguments": .string(arguments(using: &rng))]]
                }))
            }
            var choice: JSONObject = ["index": .number(i), "message": .object(message)]
            if withLogprobs {
                let count = Int.random(in: 0...4, using: &rng)
                choice.set("logprobs", count == 0 ? .null : ["content": .array((0..<count).map { k in
                    ["token": .string(text(1, using: &rng)), "logprob": .number("-0.\(k)5"), "bytes": [104, 105], "top_logprobs": []]
                })])
            }
            let reason = callCount > 0 ? "tool_calls" : ["stop", "length"].randomElement(using: &rng)!
            choice.set("finish_reason", .string(reason))
            choices.append(.object(choice))
            completionTokens += Int.random(in: 1...500, using: &rng)
        }
        let prompt = Int.random(in: 1...5000, using: &rng)
        var usage: JSONObject = ["prompt_tokens": .number(prompt), "completion_tokens": .number(completionTokens),
                                 "total_tokens": .number(prompt + completionTokens)]
        if Bool.random(using: &rng) { usage.set("cached_tokens", .number(Int.random(in: 0...prompt, using: &rng))) }
        var top: JSONObject = ["id": .string("chatcmpl-\(rng.next() % 1_000_000)"), "object": "chat.completion",
                               "created": .number(Int.random(in: 1_700_000_000...1_800_000_000, using: &rng)),
                               "model": .string(["kimi-k2-turbo-preview", "moonshot-v1-8k", "kimi-latest"].randomElement(using: &rng)!),
                               "choices": .array(choices), "usage": .object(usage)]
        if Bool.random(using: &rng) { top.set("system_fingerprint", "fp_1234") }
        return .object(top)
    }

    /// Splits a string at random unicode-scalar boundaries (fragments may be empty, as servers sometimes send).
    static func fragments(_ s: String, using rng: inout SplitMix64) -> [String] {
        let scalars = Array(s.unicodeScalars)
        var out: [String] = []
        var at = 0
        while at < scalars.count {
            let n = Int.random(in: 0...6, using: &rng)
            let end = min(scalars.count, at + n)
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: scalars[at..<end])
            out.append(String(piece))
            at = end
        }
        return out
    }

    /// Server-like chunks: per choice role + empty content first, reasoning fragments, content fragments
    /// (each with a slice of the logprobs), tool calls (id/type/name first, then argument fragments), a finish
    /// chunk; choices interleaved at random; usage either in a final top-level chunk or in each finish chunk.
    static func split(_ completion: JSONValue, using rng: inout SplitMix64) -> [JSONValue] {
        let choices = completion["choices"]!.arrayValue!
        let usageInChoice = Bool.random(using: &rng)
        let nullUsageEverywhere = !usageInChoice && Bool.random(using: &rng)
        var queues: [[JSONObject]] = []
        let usage = completion["usage"]!.objectValue!
        let prompt = usage["prompt_tokens"]!.intValue!
        var remaining = usage["completion_tokens"]!.intValue!
        for (i, choiceValue) in choices.enumerated() {
            let choice = choiceValue.objectValue!
            let message = choice["message"]!.objectValue!
            let logprobs = choice["logprobs"]
            var items = logprobs?["content"]?.arrayValue ?? []
            var deltas: [(JSONObject, JSONValue?)] = [(["role": "assistant", "content": ""], nil)]
            let reasoning = message["reasoning_content"]?.stringValue
            for f in reasoning.map({ r in r.isEmpty ? [""] : fragments(r, using: &rng) }) ?? [] {
                deltas.append((["reasoning_content": .string(f)], nil))
            }
            var contentParts = fragments(message["content"]!.stringValue!, using: &rng)
            while contentParts.count < items.count { contentParts.append("") }
            for (k, f) in contentParts.enumerated() {
                let slice: JSONValue? = k < items.count
                    ? ["content": .array(k == contentParts.count - 1 ? Array(items[k...]) : [items[k]])] : nil
                deltas.append((["content": .string(f)], slice))
            }
            items.removeAll()
            for (k, call) in (message["tool_calls"]?.arrayValue ?? []).enumerated() {
                deltas.append((["tool_calls": [["index": .number(k), "id": call["id"]!, "type": "function",
                                                "function": ["name": call["function"]!["name"]!, "arguments": ""]]]], nil))
                for f in fragments(call["function"]!["arguments"]!.stringValue!, using: &rng) {
                    deltas.append((["tool_calls": [["index": .number(k), "function": ["arguments": .string(f)]]]], nil))
                }
            }
            var queue: [JSONObject] = deltas.map { delta, slice in
                var c: JSONObject = ["index": .number(i), "delta": .object(delta)]
                if logprobs != nil { c.set("logprobs", slice ?? .null) }
                c.set("finish_reason", .null)
                return c
            }
            var finish: JSONObject = ["index": .number(i), "delta": [:]]
            if logprobs != nil { finish.set("logprobs", .null) }
            finish.set("finish_reason", choice["finish_reason"]!)
            if usageInChoice {
                let mine = i == choices.count - 1 ? remaining : Int.random(in: 0...remaining, using: &rng)
                remaining -= mine
                var u = usage
                u.set("completion_tokens", .number(mine))
                u.set("total_tokens", .number(prompt + mine))
                finish.set("usage", .object(u))
            }
            queue.append(finish)
            queues.append(queue)
        }
        if usageInChoice, queues.count > 1 {
            // The merger takes the lowest index's usage as the base: its extra members must be the original's.
            precondition(remaining == 0)
        }
        var chunks: [JSONValue] = []
        func chunk(_ choiceObjects: [JSONObject], usage: JSONValue?) -> JSONValue {
            var c: JSONObject = ["id": completion["id"]!, "object": "chat.completion.chunk",
                                 "created": completion["created"]!, "model": completion["model"]!]
            if let fp = completion["system_fingerprint"] { c.set("system_fingerprint", fp) }
            c.set("choices", .array(choiceObjects.map { .object($0) }))
            if let usage { c.set("usage", usage) } else if nullUsageEverywhere { c.set("usage", .null) }
            return .object(c)
        }
        while queues.contains(where: { !$0.isEmpty }) {
            let live = queues.indices.filter { !queues[$0].isEmpty }
            var picked = [live.randomElement(using: &rng)!]
            if live.count > 1, Int.random(in: 0..<5, using: &rng) == 0 {
                picked.append(live.filter { $0 != picked[0] }.randomElement(using: &rng)!)
            }
            chunks.append(chunk(picked.map { queues[$0].removeFirst() }, usage: nil))
        }
        if !usageInChoice { chunks.append(chunk([], usage: .object(usage))) }
        return chunks
    }
}
