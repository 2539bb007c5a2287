#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PalaceWire

/// Micro-benchmarks of the per-chunk work the traffic features add (`moonpalace _bench-features`,
/// Benchmarks/features.sh). Figures are thread CPU time (insensitive to other load on the machine), best of 5.
public enum FeatureBenchmark {
    public struct Figures: Sendable {
        /// `CompletionMerger.add(json:)` per chunk: the byte path the stream tap uses (validation included).
        public var mergeNanosPerChunk: Double
        /// `CompletionMerger.add(chunk:)` per chunk, the chunk already parsed into a `JSONValue` (the generic path).
        public var mergeParsedNanosPerChunk: Double
        /// `CompletionMerger.resultBytes()` for the whole stream, per chunk.
        public var resultNanosPerChunk: Double
        /// The whole stream tap per chunk: SSE framing, JSON parse, facts, merge, and the repeat watch.
        public var tapNanosPerChunk: Double
        /// `RepeatDetector.feed(utf8:)` per token (tokens of 1–8 characters, mixed Chinese and English).
        public var repeatNanosPerToken: Double
        /// One force-stream exchange's feature work, in the shape the mock (and Moonshot) streams: the request
        /// rewrite, then a stream of a role chunk, `forcedChunks` content chunks, a finish chunk carrying `usage`
        /// inside its choice, a usage-only chunk and `[DONE]`, fed in one read (as a batched upstream delivers it)
        /// through the tap with the repeat watch, then the summary and the client's JSON. Per stream.
        public var forcedNanosPerStream: Double
        public var tokens: Int
    }

    /// Content chunks of the force-stream figure (the benchmark's X-Mock-Chunks).
    public static let forcedChunks = 50

    public static func run(chunks: Int = 20_000) -> Figures {
        var rng: UInt64 = 0x9E3779B97F4A7C15
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
        let words = ["the", "moon", "orbits", "Earth", "every", "27.3", "days", "，", "月球", "围绕", "地球", "运行",
                     "tidal", "locking", "keeps", "one", "face", "toward", "us", "。", "光", "反射", "太阳", "\n\n"]
        var tokens: [String] = []
        for _ in 0..<chunks {
            var t = words[Int(next() % UInt64(words.count))]
            if next() % 3 == 0 { t = " " + t }
            if next() % 5 == 0 { t += words[Int(next() % UInt64(words.count))] }
            tokens.append(t)
        }
        let id = "chatcmpl-bench0000000000000000"
        let events: [String] = tokens.map { t in
            let delta = JSONValue.object({ var o = JSONObject(); o.set("content", .string(t)); return o }())
            return #"{"id":"\#(id)","object":"chat.completion.chunk","created":1700000000,"model":"kimi-k2","choices":[{"index":0,"delta":\#(delta.serialized()),"finish_reason":null}]}"#
        }
        let parsed = events.compactMap { try? JSONValue.parse($0) }
        var sse: [UInt8] = []
        for e in events { sse += SSEEncoder.encode(data: e) }
        sse += SSEEncoder.done

        let eventBytes = events.map { Array($0.utf8) }
        let merge = best {
            var merger = CompletionMerger()
            for chunk in eventBytes { chunk.withUnsafeBufferPointer { try? merger.add(json: $0) } }
            return merger.chunkCount
        } / Double(eventBytes.count)
        let mergeParsed = best {
            var merger = CompletionMerger()
            for chunk in parsed { merger.add(chunk: chunk) }
            return merger.chunkCount
        } / Double(parsed.count)
        var full = CompletionMerger()
        for chunk in eventBytes { chunk.withUnsafeBufferPointer { try? full.add(json: $0) } }
        let result = best { full.resultBytes().count } / Double(eventBytes.count)
        let tap = best {
            var tap = StreamTap(contentType: "text/event-stream")
            tap.repeatWatch = RepeatWatch(settings: RepeatSettings())
            var i = 0
            while i < sse.count {   // 4 KiB reads, as curl hands them over
                tap.feed(sse[i..<min(i + 4096, sse.count)], now: 1)
                i += 4096
            }
            tap.finish(now: 2)
            return tap.facts == nil ? 0 : 1
        } / Double(events.count)
        let tokenBytes = tokens.map { Array($0.utf8) }
        let detector = best {
            var d = RepeatDetector(threshold: 0.5, minLength: 100)
            var trips = 0
            for t in tokenBytes where t.withUnsafeBufferPointer({ d.feed(utf8: $0) }) { trips += 1 }
            return trips
        } / Double(tokens.count)
        let forced = forcedStream(tokens: Array(tokens.prefix(forcedChunks)), id: id)
        return Figures(mergeNanosPerChunk: merge, mergeParsedNanosPerChunk: mergeParsed, resultNanosPerChunk: result,
                       tapNanosPerChunk: tap, repeatNanosPerToken: detector, forcedNanosPerStream: forced,
                       tokens: tokens.count)
    }

    /// See `Figures.forcedNanosPerStream`: best of 5 runs of 200 streams.
    static func forcedStream(tokens: [String], id: String) -> Double {
        let request = Array(#"{"model":"moonshot-v1-8k","messages":[{"role":"user","content":"Explain the phases of the moon."}]}"#.utf8)
        let head = #"{"id":"\#(id)","object":"chat.completion.chunk","created":1700000000,"model":"moonshot-v1-8k","choices":[{"index":0,"#
        var sse: [UInt8] = []
        sse += SSEEncoder.encode(data: head + #""delta":{"role":"assistant","content":""},"finish_reason":null}]}"#)
        for t in tokens {
            let delta = JSONValue.object({ var o = JSONObject(); o.set("content", .string(t)); return o }())
            sse += SSEEncoder.encode(data: head + #""delta":\#(delta.serialized()),"finish_reason":null}]}"#)
        }
        let usage = #"{"prompt_tokens":12,"completion_tokens":\#(tokens.count),"total_tokens":\#(12 + tokens.count)}"#
        sse += SSEEncoder.encode(data: head + #""delta":{},"finish_reason":"stop","usage":\#(usage)}]}"#)
        sse += SSEEncoder.encode(data: #"{"id":"\#(id)","object":"chat.completion.chunk","created":1700000000,"model":"moonshot-v1-8k","choices":[],"usage":\#(usage)}"#)
        sse += SSEEncoder.done
        let streams = 200
        return best {
            var sink = 0
            for _ in 0..<streams {
                sink &+= ForceStream.rewrite(request)?.count ?? 0
                var tap = StreamTap(contentType: "text/event-stream")
                tap.keepWholeMerge = true
                tap.repeatWatch = RepeatWatch(settings: RepeatSettings())
                tap.feed(sse, now: 1)
                tap.finish(now: 2)
                sink &+= tap.mergedCompletion()?.count ?? 0
                sink &+= tap.facts?.usage?.completionTokens ?? 0
            }
            return sink
        } / Double(streams)
    }

    /// Best of 5 runs, in thread CPU nanoseconds (the result of `body` is kept alive so it is not optimised away).
    static func best(_ body: () -> Int) -> Double {
        var fastest = Double.infinity
        var sink = 0
        for _ in 0..<5 {
            let start = cpuNanos()
            sink &+= body()
            fastest = min(fastest, Double(cpuNanos() - start))
        }
        if sink == Int.min { print(sink) }
        return fastest
    }

    static func cpuNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
