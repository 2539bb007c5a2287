import CLZ4
import PalaceWire
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A short form of a JSON body that decides most body-path predicates inside SQLite, without the log.
///
/// The skeleton is the body, minified, with every part a predicate rarely compares replaced by the marker string
/// `"\u0000"` (written with the escape, 8 bytes):
/// - strings longer than `maxString` bytes (as written, escapes included) — message texts, descriptions;
/// - the middle elements of arrays longer than 4 except nulls (the first two and last two are kept, so `0`, `1`,
///   `-1`, `-2` resolve and the array keeps its length for negative indexes);
/// - values nested deeper than `maxDepth` (tool parameter schemas).
/// So a marker always stands for a value that is not JSON null. Everything else (every object key in order, numbers, booleans, nulls, short strings) is copied byte for byte as
/// written, so `JSONBytes.find` follows a path through the skeleton exactly as through the body.
///
/// Invariants:
/// - A path is decided by the skeleton ("known") when it leads through kept values only: then the value's bytes —
///   or its absence — are those of the body. It is unknown when it meets a marker on the way, or ends on a marker,
///   or ends on an object/array holding a marker (its text is not the body's) — except that a null test only
///   needs to know that a value is there. Unknown rows are decided from the log. A body string that happens to
///   equal the marker is taken as a marker (unknown: slower, never wrong).
/// - Stored as one byte of format (1: LZ4 block with `dictionary`, 0: as is) and the bytes. Bodies whose skeleton
///   would exceed `maxBytes` get none (NULL: every path unknown).
public enum BodySkeleton {
    static let maxString = 24
    static let maxDepth = 6
    static let maxBytes = 16 << 10
    static let marker: [UInt8] = Array(#""\u0000""#.utf8)

    // MARK: - Building

    /// The skeleton of a valid JSON body, stored form (nil when too large).
    static func make(_ body: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let n = textLength(body)
        let b = UnsafeBufferPointer(rebasing: body[0..<n])
        var out: [UInt8] = []
        out.reserveCapacity(min(n, 2048))
        var i = 0
        JSONBytes.skipSpace(b, &i)
        guard copy(b, &i, depth: 0, into: &out), out.count <= maxBytes else { return nil }
        return compress(out)
    }

    static func make(_ body: [UInt8]) -> [UInt8]? { body.withUnsafeBufferPointer { make($0) } }

    /// Whether `body` is valid JSON (exactly `JSONBytes.isValid`) and, when it is, its skeleton (nil when too
    /// large) — one pass over the bytes instead of a validation pass and a copying pass.
    static func validated(_ body: UnsafeBufferPointer<UInt8>) -> (valid: Bool, skeleton: [UInt8]?) {
        let n = textLength(body)
        let b = UnsafeBufferPointer(rebasing: body[0..<n])
        var out: [UInt8] = []
        out.reserveCapacity(min(n, 2048))
        var i = 0
        JSONBytes.skipSpace(b, &i)
        guard copy(b, &i, depth: 0, into: &out) else { return (false, nil) }
        JSONBytes.skipSpace(b, &i)
        guard i == b.count else { return (false, nil) }
        return (true, out.count <= maxBytes ? compress(out) : nil)
    }

    /// The bytes before the first NUL (SQLite reads text up to it), found with `memchr` (the generic
    /// `firstIndex(of:)` is not specialized here and cost more than the rest of the skeleton's pass).
    @inline(__always) static func textLength(_ body: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = body.baseAddress, !body.isEmpty, let nul = memchr(base, 0, body.count) else { return body.count }
        return UnsafeRawPointer(nul) - UnsafeRawPointer(base)
    }

    /// Appends the skeleton of the value at `b[i]` (valid JSON) to `out`; `i` ends after the value. One pass:
    /// every byte of the body is read once.
    private static func copy(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, depth: Int, into out: inout [UInt8]) -> Bool {
        guard i < b.count else { return false }
        let start = i
        switch b[i] {
        case UInt8(ascii: "{"):
            if depth >= maxDepth {
                guard JSONBytes.skipValue(b, &i, depth: depth) else { return false }
                out += marker
                return true
            }
            out.append(UInt8(ascii: "{"))
            i += 1
            JSONBytes.skipSpace(b, &i)
            if i < b.count && b[i] == UInt8(ascii: "}") { i += 1; out.append(UInt8(ascii: "}")); return true }
            while true {
                let label = i
                guard i < b.count, b[i] == UInt8(ascii: "\""), JSONBytes.skipString(b, &i) else { return false }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[label..<i]))
                JSONBytes.skipSpace(b, &i)
                guard i < b.count, b[i] == UInt8(ascii: ":") else { return false }
                out.append(UInt8(ascii: ":"))
                i += 1
                JSONBytes.skipSpace(b, &i)
                guard copy(b, &i, depth: depth + 1, into: &out) else { return false }
                JSONBytes.skipSpace(b, &i)
                guard i < b.count else { return false }
                if b[i] == UInt8(ascii: ",") { out.append(UInt8(ascii: ",")); i += 1; JSONBytes.skipSpace(b, &i); continue }
                if b[i] == UInt8(ascii: "}") { out.append(UInt8(ascii: "}")); i += 1; return true }
                return false
            }
        case UInt8(ascii: "["):
            if depth >= maxDepth {
                guard JSONBytes.skipValue(b, &i, depth: depth) else { return false }
                out += marker
                return true
            }
            out.append(UInt8(ascii: "["))
            i += 1
            JSONBytes.skipSpace(b, &i)
            if i < b.count && b[i] == UInt8(ascii: "]") { i += 1; out.append(UInt8(ascii: "]")); return true }
            // Elements are copied as they come; once the array is known to be long, the middle ones written so
            // far are replaced (only the last two kept copies are ever pending).
            var kept: [(start: Int, isNull: Bool)] = []   // output offsets of elements 2…, not yet elided
            var k = 0
            while true {
                let elementStart = out.count
                let isNull = i + 4 <= b.count && b[i] == UInt8(ascii: "n")
                if k < 2 {
                    guard copy(b, &i, depth: depth + 1, into: &out) else { return false }
                } else {
                    guard copy(b, &i, depth: depth + 1, into: &out) else { return false }
                    kept.append((elementStart, isNull))
                    if kept.count > 2 {
                        // Element k-2 is now a middle element: replace its copy (and shift the two after it).
                        let victim = kept.removeFirst()
                        let nextStart = kept[0].start
                        let replacement = victim.isNull ? Array("null".utf8) : marker
                        let delta = replacement.count - (nextStart - 1 - victim.start)
                        out.replaceSubrange(victim.start..<(nextStart - 1), with: replacement)
                        for x in kept.indices { kept[x].start += delta }
                    }
                }
                k += 1
                JSONBytes.skipSpace(b, &i)
                guard i < b.count else { return false }
                if b[i] == UInt8(ascii: ",") { out.append(UInt8(ascii: ",")); i += 1; JSONBytes.skipSpace(b, &i); continue }
                if b[i] == UInt8(ascii: "]") { out.append(UInt8(ascii: "]")); i += 1; return true }
                return false
            }
        case UInt8(ascii: "\""):
            guard JSONBytes.skipString(b, &i) else { return false }
            if i - start - 2 > maxString { out += marker } else { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<i])) }
            return true
        default:
            guard JSONBytes.skipValue(b, &i, depth: 0) else { return false }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<i]))
            return true
        }
    }

    // MARK: - Storage (LZ4 with a dictionary of typical chat-completion skeletons)

    /// Fragments of typical OpenAI-compatible request and response skeletons (Moonshot's models, roles, keys).
    static let dictionary: [UInt8] = Array(("""
        {"id":"\\u0000","object":"chat.completion.chunk","created":1700000000,"model":"moonshot-v1-auto","choices":[{"index":0,"delta":{"role":"assistant","content":"\\u0000"},"logprobs":null,"finish_reason":null}],"system_fingerprint":null}\
        {"error":{"message":"\\u0000","type":"rate_limit_reached_error"}}{"error":{"message":"\\u0000","type":"invalid_request_error"}}\
        {"type":"function","function":{"name":"get_weather","description":"\\u0000","parameters":{"type":"object","properties":{"\\u0000"},"required":["\\u0000"]}}}\
        "tool_choice":"auto","tools":[{"type":"function","function":{"name":"\\u0000","description":"\\u0000","parameters":"\\u0000"}}],\
        "response_format":{"type":"json_object"},"stream_options":{"include_usage":true},"n":1,"stop":null,"presence_penalty":0,"frequency_penalty":0,"top_p":1,\
        "partial":true,"name":"\\u0000","tool_call_id":"\\u0000","tool_calls":[{"index":0,"id":"\\u0000","type":"function","function":{"name":"\\u0000","arguments":"\\u0000"}}],\
        "reasoning_content":"\\u0000","stream":true,"stream":false,"temperature":0.3,"temperature":0.6,"temperature":1,"max_tokens":1024,"max_tokens":4096,"max_tokens":8192,\
        {"model":"kimi-k2-0905-preview","messages":[{"role":"system","content":"\\u0000"},{"role":"user","content":"\\u0000"},"\\u0000","\\u0000",\
        {"role":"assistant","content":"\\u0000"},{"role":"tool","content":"\\u0000"},{"role":"user","content":[{"type":"text","text":"\\u0000"},{"type":"image_url","image_url":{"url":"\\u0000"}}]}],\
        "model":"kimi-latest","model":"moonshot-v1-8k","model":"moonshot-v1-32k","model":"moonshot-v1-128k","model":"kimi-thinking-preview","model":"kimi-k2-turbo-preview",\
        "finish_reason":"tool_calls"}],"finish_reason":"length"}],"finish_reason":"stop"}],\
        {"id":"\\u0000","object":"chat.completion","created":1760000000,"model":"moonshot-v1-8k","choices":[{"index":0,"message":{"role":"assistant","content":"\\u0000"},\
        "usage":{"prompt_tokens":1000,"completion_tokens":100,"total_tokens":1100,"cached_tokens":0}}
        """).utf8)

    /// A stream with the dictionary loaded once; compressions attach it (`LZ4_attach_dictionary`: read in place,
    /// neither a dictionary load nor a copy of the 16 KiB state per skeleton).
    nonisolated(unsafe) private static let preparedStream: UnsafeMutablePointer<LZ4_stream_t> = {
        let s = UnsafeMutablePointer<LZ4_stream_t>.allocate(capacity: 1)
        _ = LZ4_initStream(s, MemoryLayout<LZ4_stream_t>.size)
        dictionaryBytes.withMemoryRebound(to: CChar.self, capacity: dictionary.count) {
            _ = LZ4_loadDict(s, $0, Int32(dictionary.count))
        }
        return s
    }()

    /// The dictionary at a fixed address (LZ4 streams point into it).
    nonisolated(unsafe) static let dictionaryBytes: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: dictionary.count)
        p.initialize(from: dictionary, count: dictionary.count)
        return p
    }()

    /// Working streams, reused (the indexer compresses two skeletons per exchange; threads: the tailer, a
    /// rebuild's reader, tests).
    private struct StreamBox: @unchecked Sendable { let p: UnsafeMutablePointer<LZ4_stream_t> }
    private static let streams = Mutex<[StreamBox]>([])

    static func compress(_ raw: [UInt8]) -> [UInt8] {
        guard !raw.isEmpty else { return [0] }
        let bound = Int(LZ4_compressBound(Int32(raw.count)))
        let stream: UnsafeMutablePointer<LZ4_stream_t>
        if let s = streams.withLock({ $0.popLast() }) {
            stream = s.p
        } else {
            stream = .allocate(capacity: 1)
            _ = LZ4_initStream(stream, MemoryLayout<LZ4_stream_t>.size)
        }
        defer { streams.withLock { if $0.count < 8 { $0.append(StreamBox(p: stream)) } else { stream.deallocate() } } }
        LZ4_resetStream_fast(stream)
        LZ4_attach_dictionary(stream, preparedStream)
        var n = 0
        let out = [UInt8](unsafeUninitializedCapacity: bound + 1) { dst, count in
            n = raw.withUnsafeBytes { src in
                Int(LZ4_compress_fast_continue(stream, src.baseAddress!.assumingMemoryBound(to: CChar.self),
                                               UnsafeMutableRawPointer(dst.baseAddress! + 1).assumingMemoryBound(to: CChar.self),
                                               Int32(raw.count), Int32(bound), 1))
            }
            dst[0] = 1
            count = n > 0 ? n + 1 : 0
        }
        guard n > 0, n < raw.count else { return [0] + raw }
        return out
    }

    /// The skeleton text of a stored form into `scratch` (its length), or nil when the stored bytes are damaged.
    static func decompress(_ stored: UnsafeRawBufferPointer, into scratch: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int? {
        guard stored.count >= 1 else { return nil }
        let payload = UnsafeRawBufferPointer(rebasing: stored[1...])
        switch stored[0] {
        case 0:
            guard payload.count <= capacity else { return nil }
            if let base = payload.baseAddress { scratch.update(from: base.assumingMemoryBound(to: UInt8.self), count: payload.count) }
            return payload.count
        case 1:
            guard let base = payload.baseAddress else { return nil }
            let n = scratch.withMemoryRebound(to: CChar.self, capacity: capacity) { dst in
                dictionaryBytes.withMemoryRebound(to: CChar.self, capacity: dictionary.count) { dict in
                    LZ4_decompress_safe_usingDict(base.assumingMemoryBound(to: CChar.self), dst, Int32(payload.count),
                                                  Int32(capacity), dict, Int32(dictionary.count))
                }
            }
            return n >= 0 ? Int(n) : nil
        default:
            return nil
        }
    }

    // MARK: - Lookup

    /// What a skeleton says about a path.
    enum Lookup: Equatable {
        /// The path leads to this value (byte range in the skeleton), exactly as in the body.
        case value(Range<Int>)
        /// The path leads nowhere in the body.
        case missing
        /// The value is there and is not JSON null, but its text is not kept (enough for a null test).
        case present
        /// Not decidable from the skeleton.
        case unknown
    }

    static func isMarker(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        guard i + marker.count <= b.count else { return false }
        for k in 0..<marker.count where b[i + k] != marker[k] { return false }
        return true
    }

    /// Follows `path` through the skeleton text `b` (a minified, valid JSON document).
    static func lookup(_ b: UnsafeBufferPointer<UInt8>, path: [PredicatePathStep]) -> Lookup {
        var i = 0
        guard !b.isEmpty else { return .unknown }
        for step in path {
            if isMarker(b, i) { return .unknown }
            switch step {
            case .key(let key):
                guard b[i] == UInt8(ascii: "{") else { return .missing }
                guard let v = JSONBytes.member(b, objectAt: i, key: key) else { return .missing }
                i = v
            case .index(let k):
                guard b[i] == UInt8(ascii: "[") else { return .missing }
                guard let v = JSONBytes.element(b, arrayAt: i, index: k) else { return .missing }
                i = v
            }
        }
        if isMarker(b, i) { return .present }
        var end = i
        guard JSONBytes.skipValue(b, &end, depth: 0) else { return .unknown }
        if b[i] == UInt8(ascii: "{") || b[i] == UInt8(ascii: "[") {
            // Its text is the body's only when nothing inside was replaced.
            var k = i
            while k + marker.count <= end {
                if b[k] == UInt8(ascii: "\"") && isMarker(b, k) { return .present }
                if b[k] == UInt8(ascii: "\"") {
                    var j = k
                    guard JSONBytes.skipString(b, &j) else { return .unknown }
                    k = j
                } else {
                    k += 1
                }
            }
        }
        return .value(i..<end)
    }

    /// A predicate path as the text bound to the SQL functions: a JSON array of keys (strings) and indexes.
    static func encodePath(_ path: [PredicatePathStep]) -> String {
        "[" + path.map { step -> String in
            switch step {
            case .key(let k): return JSONValue.string(k).serialized()
            case .index(let n): return String(n)
            }
        }.joined(separator: ",") + "]"
    }

    static func decodePath(_ text: [UInt8]) -> [PredicatePathStep]? {
        text.withUnsafeBufferPointer { b -> [PredicatePathStep]? in
            var steps: [PredicatePathStep] = []
            var i = 0
            JSONBytes.skipSpace(b, &i)
            var ok = true
            guard JSONBytes.forEachElement(b, arrayAt: i, { v in
                if let s = JSONBytes.string(b, at: v) {
                    steps.append(.key(s))
                } else {
                    var e = v
                    guard JSONBytes.skipValue(b, &e, depth: 0),
                          let n = Int(String(decoding: UnsafeBufferPointer(rebasing: b[v..<e]), as: UTF8.self)) else {
                        ok = false
                        return false
                    }
                    steps.append(.index(n))
                }
                return true
            }), ok else { return nil }
            return steps
        }
    }
}
