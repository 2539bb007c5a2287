import PalaceLog
import PalaceWire

/// Synthetic but realistic Kimi traffic written through the real `LogWriter`, for benchmarks and tests:
/// chat completions (stream and not, 1–6 messages, Chinese and English), a few errors (429, 500, transport
/// failures), ids and headers shaped like Moonshot's, usage and timings. Deterministic for a given seed.
public struct TrafficGenerator: Sendable {
    public var seed: UInt64
    public init(seed: UInt64 = 42) { self.seed = seed }

    static let models = ["kimi-k2-0905-preview", "moonshot-v1-8k", "moonshot-v1-32k", "kimi-latest", "kimi-thinking-preview"]
    static let english = ["How do I reverse a linked list in Swift?", "Summarize the following meeting notes.",
                          "Write a haiku about the sea at night.", "Explain the difference between TCP and UDP.",
                          "Translate this paragraph into French, keeping the tone formal.",
                          "What is the capital of Australia and why is it not Sydney?",
                          "Give me three ideas for a birthday party for a seven-year-old.",
                          "Refactor this function to avoid the nested loops.", "Why does my Python script leak memory?"]
    static let chinese = ["请帮我写一封求职信，应聘后端工程师。", "月之暗面是一家什么样的公司？", "把下面这段话翻译成英文。",
                          "解释一下量子计算的基本原理。", "给我推荐几本关于历史的书。", "如何用 Swift 解析 JSON？",
                          "北京今天的天气怎么样？", "写一首关于春天的七言绝句。", "帮我总结这篇文章的要点。"]
    static let answers = ["Sure! Here is a step-by-step explanation.", "当然可以，下面是详细的说明。",
                          "The short answer is yes, but there are caveats worth knowing.", "首先，我们需要理解问题的背景。",
                          "Here are three options, from simplest to most elaborate.", "这个问题可以从以下几个方面来看。"]

    struct RNG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            return z ^ (z >> 31)
        }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ xs: [T]) -> T { xs[int(xs.count)] }
        mutating func hex(_ n: Int) -> String {
            var s = ""
            while s.count < n { s += String(next(), radix: 16) }
            return String(s.prefix(n))
        }
    }

    /// Appends `count` exchanges (begin + end each), spread over the `days` before `endMicros`.
    /// `progress` is called every 10,000 exchanges.
    public func write(count: Int, to writer: LogWriter, endMicros: Int64 = TimeExpression.nowMicros(), days: Int = 30,
                      progress: (@Sendable (Int) -> Void)? = nil) async throws {
        var rng = RNG(state: seed)
        let span = Int64(days) * 86_400_000_000
        for i in 0..<count {
            let started = endMicros - span + span * Int64(i) / Int64(max(count, 1))
            let (begin, makeEnd) = exchange(&rng, startedAt: started)
            let (id, _) = try await writer.appendBegin(begin)
            _ = try await writer.append(.end(makeEnd(id)))
            if i % 10_000 == 9_999 { progress?(i + 1) }
        }
    }

    func text(_ rng: inout RNG, minParts: Int, maxParts: Int) -> String {
        let zh = rng.int(3) == 0
        let n = minParts + rng.int(maxParts - minParts + 1)
        return (0..<n).map { _ in zh ? rng.pick(Self.chinese) : rng.pick(Self.english) }.joined(separator: " ")
    }

    func exchange(_ rng: inout RNG, startedAt: Int64) -> (ExchangeBegin, (UInt64) -> ExchangeEnd) {
        let model = rng.pick(Self.models)
        let stream = rng.int(2) == 0
        let turns = 1 + rng.int(3)
        var messages = [#"{"role":"system","content":"You are Kimi, an AI assistant provided by Moonshot AI. You are proficient in Chinese and English conversations."}"#]
        for t in 0..<turns {
            messages.append(#"{"role":"user","content":\#(quote(text(&rng, minParts: 1, maxParts: 4)))}"#)
            if t < turns - 1 { messages.append(#"{"role":"assistant","content":\#(quote(text(&rng, minParts: 2, maxParts: 6)))}"#) }
        }
        let temperature = ["0.3", "0.6", "1.0", "0"][rng.int(4)]
        let body = #"{"model":"\#(model)","messages":[\#(messages.joined(separator: ","))],"temperature":\#(temperature),"max_tokens":\#(512 << rng.int(4))\#(stream ? ",\"stream\":true" : "")}"#
        let requestID = "\(rng.hex(8))-\(rng.hex(4))-\(rng.hex(4))-\(rng.hex(4))-\(rng.hex(12))"
        let roll = rng.int(100)
        let status = roll < 94 ? 200 : roll < 97 ? 429 : roll < 99 ? 500 : 0
        let answer = (0..<(1 + rng.int(6))).map { _ in rng.pick(Self.answers) }.joined(separator: " ")
            + " " + text(&rng, minParts: 1, maxParts: 5)
        let cmpl = "chatcmpl-" + rng.hex(24)
        let prompt = body.utf8.count / 4, completion = answer.utf8.count / 3
        let cached = rng.int(4) == 0 ? prompt / 2 : 0
        let ttfb = Int64(150_000 + rng.int(600_000)), total = ttfb + Int64(200_000 + rng.int(8_000_000))
        let finish = rng.int(20) == 0 ? "length" : "stop"
        let uid = "u" + rng.hex(20)
        let headers = [HeaderField(name: "Content-Type", value: "application/json"),
                       HeaderField(name: "Authorization", value: "Bearer ****************\(rng.hex(4))"),
                       HeaderField(name: "User-Agent", value: "OpenAI/Python 1.51.0")]
        let begin = ExchangeBegin(startedAt: startedAt, method: "POST", target: "/v1/chat/completions",
                                  endpoint: "https://api.moonshot.cn", requestHeaders: headers,
                                  requestBody: Array(body.utf8), requestBodyComplete: true,
                                  flags: stream ? .stream : [])
        return (begin, { id in
            var e = ExchangeEnd(exchangeID: id, endedAt: startedAt + total, status: status)
            e.requestBodyLength = UInt64(body.utf8.count)
            e.responseHeaders = [HeaderField(name: "Content-Type", value: stream && status == 200 ? "text/event-stream" : "application/json"),
                                 HeaderField(name: "Msh-Request-Id", value: requestID),
                                 HeaderField(name: "Server-Timing", value: "inner; dur=\(total / 1000 - 20)"),
                                 HeaderField(name: "Msh-Uid", value: uid)]
            e.requestID = requestID
            e.uid = uid
            e.timings = ExchangeTimings(ttfb: ttfb, ttft: stream ? ttfb + 30_000 : nil, total: total,
                                        serverTimingMs: Double(total / 1000 - 20))
            guard status == 200 else {
                if status == 0 {
                    e.failure = ExchangeFailure(step: "read_response_head", message: "upstream closed the connection")
                } else {
                    e.responseBody = Array(#"{"error":{"message":"\#(status == 429 ? "rate limit reached for requests" : "internal server error")","type":"\#(status == 429 ? "rate_limit_reached_error" : "server_error")"}}"#.utf8)
                }
                e.responseBodyLength = UInt64(e.responseBody.count)
                return e
            }
            let completionJSON = #"{"id":"\#(cmpl)","object":"chat.completion","created":\#(startedAt / 1_000_000),"model":"\#(model)","choices":[{"index":0,"message":{"role":"assistant","content":\#(quote(answer))},"finish_reason":"\#(finish)"}],"usage":{"prompt_tokens":\#(prompt),"completion_tokens":\#(completion),"total_tokens":\#(prompt + completion)\#(cached > 0 ? ",\"cached_tokens\":\(cached)" : "")}}"#
            if stream {
                var sse = ""
                let words = answer.split(separator: " ")
                for (k, w) in words.enumerated() {
                    sse += #"data: {"id":"\#(cmpl)","object":"chat.completion.chunk","created":\#(startedAt / 1_000_000),"model":"\#(model)","choices":[{"index":0,"delta":{"content":\#(quote((k == 0 ? "" : " ") + w))},"finish_reason":null}]}"# + "\n\n"
                }
                sse += #"data: {"id":"\#(cmpl)","object":"chat.completion.chunk","created":\#(startedAt / 1_000_000),"model":"\#(model)","choices":[{"index":0,"delta":{},"finish_reason":"\#(finish)","usage":{"prompt_tokens":\#(prompt),"completion_tokens":\#(completion),"total_tokens":\#(prompt + completion)}}]}"# + "\n\ndata: [DONE]\n\n"
                e.responseBody = Array(sse.utf8)
                e.mergedCompletion = Array(completionJSON.utf8)
                e.flags = .stream
            } else {
                e.responseBody = Array(completionJSON.utf8)
            }
            e.responseBodyLength = UInt64(e.responseBody.count)
            e.chatcmplID = cmpl
            e.model = model
            e.usage = Usage(promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion, cachedTokens: cached)
            e.finishReasons = [finish]
            return e
        })
    }

    func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

/// Replays a pool of realistic exchanges (from `tools/corpus/generate.py --jsonl`, the corpus the log's
/// dictionary and benchmarks use: long system prompts, history, tools, SSE streams with short deltas) as many
/// times as asked, each copy with its own ids, user, times, timings and, for streams, the merged completion the
/// proxy would have logged. Bodies are shared between copies (no per-copy byte work), so a million exchanges
/// are written at the log's own speed.
public struct CorpusReplay: Sendable {
    public struct Item: Sendable {
        public var begin: ExchangeBegin
        public var end: ExchangeEnd
        public init(begin: ExchangeBegin, end: ExchangeEnd) { self.begin = begin; self.end = end }
    }

    let items: [Item]
    public var seed: UInt64

    /// `items` as read from the corpus; their facts (usage, finish reasons, model, merged completion) are derived
    /// here from the bodies, the way the proxy derives them.
    public init(items: [Item], seed: UInt64 = 42) {
        self.seed = seed
        self.items = items.map { item in
            var it = item
            let stream = it.begin.flags.contains(.stream) && it.end.status == 200
            if stream, let merged = StreamMerge.merge(it.end.responseBody) {
                it.end.mergedCompletion = merged
            }
            let facts = (it.end.mergedCompletion ?? (stream ? nil : it.end.responseBody))
                .flatMap { try? JSONValue.parse($0) }.map(CompletionFacts.of)
            if let f = facts, it.end.status == 200 {
                it.end.model = f.model
                it.end.usage = f.usage.map { Usage(promptTokens: $0.promptTokens, completionTokens: $0.completionTokens,
                                                   totalTokens: $0.totalTokens, cachedTokens: $0.cachedTokens) }
                it.end.finishReasons = f.orderedFinishReasons
            } else {
                it.end.usage = nil
                it.end.finishReasons = []
                it.end.chatcmplID = nil
            }
            it.end.gid = it.end.responseHeaders.first { $0.name.lowercased() == "msh-gid" }?.value
            it.end.flags = stream ? .stream : []
            it.end.requestBodyLength = UInt64(it.begin.requestBody.count)
            it.end.responseBodyLength = UInt64(it.end.responseBody.count)
            return it
        }
    }

    /// Appends `count` exchanges (begin + end each), spread over the `days` before `endMicros`.
    public func write(count: Int, to writer: LogWriter, endMicros: Int64 = TimeExpression.nowMicros(), days: Int = 30,
                      progress: (@Sendable (Int) -> Void)? = nil) async throws {
        guard !items.isEmpty else { return }
        var rng = TrafficGenerator.RNG(state: seed)
        let users = (0..<16).map { _ in rng.hex(20) }
        let span = Int64(days) * 86_400_000_000
        for i in 0..<count {
            let started = endMicros - span + span * Int64(i) / Int64(max(count, 1))
            let item = items[rng.int(items.count)]
            var begin = item.begin
            begin.startedAt = started
            if rng.int(10) == 0 { begin.clientRequestID = "req-" + rng.hex(12) }
            var end = item.end
            let ttfb = Int64(150_000 + rng.int(600_000)), total = ttfb + Int64(200_000 + rng.int(8_000_000))
            end.endedAt = started + total
            if rng.int(200) == 0 {
                end.status = 0
                end.responseHeaders = []
                end.responseBody = []
                end.mergedCompletion = nil
                end.responseBodyLength = 0
                end.usage = nil
                end.finishReasons = []
                end.chatcmplID = nil
                end.failure = ExchangeFailure(step: "read_response_head", message: "upstream closed the connection")
            } else {
                end.requestID = "\(rng.hex(8))-\(rng.hex(4))-\(rng.hex(4))-\(rng.hex(4))-\(rng.hex(12))"
                if end.status == 200 { end.chatcmplID = "chatcmpl-" + rng.hex(24) }
                end.uid = users[rng.int(users.count)]
            }
            let stream = end.flags.contains(.stream)
            end.timings = ExchangeTimings(ttfb: ttfb, ttft: stream ? ttfb + Int64(rng.int(60_000)) : nil, total: total,
                                          serverTimingMs: end.status == 0 ? nil : Double(total / 1000 - Int64(rng.int(40))))
            let (id, _) = try await writer.appendBegin(begin)
            end.exchangeID = id
            _ = try await writer.append(.end(end))
            if i % 10_000 == 9_999 { progress?(i + 1) }
        }
    }
}
