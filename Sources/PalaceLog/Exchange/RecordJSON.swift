/// JSON Lines rendering of records for `log dump` (field list in README, "log dump").
/// Bodies are strings when valid UTF-8, otherwise base64 with a sibling `<field>_encoding: "base64"`.
public enum RecordJSON {
    /// `s` as a JSON string literal (quotes included).
    public static func quote(_ s: String) -> String { JSONObjectWriter.quote(s) }

    public static func line(_ s: StoredRecord) -> String {
        var o = JSONObjectWriter()
        o.number("id", s.sequence)
        o.string("type", s.record.type.name)
        o.number("exchange", s.record.exchangeID)
        o.string("time", RFC3339.format(micros: s.timestamp))
        o.number("segment", s.position.segment)
        o.number("offset", s.position.offset)
        switch s.record {
        case .begin(let b):
            o.string("started_at", RFC3339.format(micros: b.startedAt))
            o.string("method", b.method); o.string("target", b.target); o.string("endpoint", b.endpoint)
            o.headers("request_headers", b.requestHeaders)
            o.body("request_body", b.requestBody)
            o.bool("request_body_complete", b.requestBodyComplete)
            if let v = b.clientRequestID { o.string("client_request_id", v) }
            o.flags("flags", b.flags)
            if !b.meta.isEmpty { o.headers("meta", b.meta) }
        case .chunk(let c):
            o.string("direction", c.direction == .request ? "request" : "response")
            o.number("body_offset", c.offset)
            o.body("bytes", c.bytes)
            if !c.arrivals.isEmpty { o.raw("arrivals", Self.arrivals(c.arrivals, from: c.offset)) }
        case .end(let e):
            o.string("ended_at", RFC3339.format(micros: e.endedAt))
            o.int("status", Int64(e.status))
            o.headers("response_headers", e.responseHeaders)
            o.body("response_body", e.responseBody)
            o.number("response_body_offset", e.responseBodyOffset)
            o.number("request_body_length", e.requestBodyLength)
            o.number("response_body_length", e.responseBodyLength)
            var t = JSONObjectWriter()
            if let v = e.timings.ttfb { t.int("ttfb_us", v) }
            if let v = e.timings.ttft { t.int("ttft_us", v) }
            if let v = e.timings.total { t.int("total_us", v) }
            if let v = e.timings.serverTimingMs { t.double("server_timing_ms", v) }
            if let v = e.timings.tpotMs { t.double("tpot_ms", v) }
            if let v = e.timings.outputTokensPerSecond { t.double("output_tokens_per_second", v) }
            o.raw("timings", t.finished())
            for (k, v) in [("request_id", e.requestID), ("chatcmpl_id", e.chatcmplID), ("uid", e.uid),
                           ("gid", e.gid), ("model", e.model)] { if let v { o.string(k, v) } }
            if let u = e.usage {
                var m = JSONObjectWriter()
                m.int("prompt_tokens", Int64(u.promptTokens)); m.int("completion_tokens", Int64(u.completionTokens))
                m.int("total_tokens", Int64(u.totalTokens)); m.int("cached_tokens", Int64(u.cachedTokens))
                o.raw("usage", m.finished())
            }
            o.strings("finish_reasons", e.finishReasons)
            o.flags("flags", e.flags)
            o.strings("warnings", e.warnings)
            if let f = e.failure {
                var m = JSONObjectWriter(); m.string("step", f.step); m.string("message", f.message)
                o.raw("failure", m.finished())
            }
            if let m = e.mergedCompletion { o.body("merged_completion", m) }
            if !e.arrivals.isEmpty { o.raw("arrivals", Self.arrivals(e.arrivals, from: e.responseBodyOffset)) }
        case .annotation(let a):
            if let c = a.category { o.string("category", c) }
            o.strings("add_tags", a.addTags); o.strings("remove_tags", a.removeTags)
        case .tombstone(let t):
            o.raw("exchange_ids", "[" + t.exchangeIDs.map(String.init).joined(separator: ",") + "]")
            o.string("reason", t.reason)
        }
        return o.finished()
    }

    /// `[[body_offset, length, µs since the request was sent], …]`, one per read.
    static func arrivals(_ a: BodyArrivals, from offset: UInt64) -> String {
        "[" + a.entries(from: offset).map { "[\($0.offset),\($0.length),\($0.micros)]" }.joined(separator: ",") + "]"
    }
}

/// Builds one JSON object, keys in insertion order.
struct JSONObjectWriter {
    private var text = "{"
    private var first = true

    private mutating func key(_ k: String) {
        if !first { text += "," }
        first = false
        text += Self.quote(k) + ":"
    }
    mutating func raw(_ k: String, _ json: String) { key(k); text += json }
    mutating func string(_ k: String, _ v: String) { key(k); text += Self.quote(v) }
    mutating func number(_ k: String, _ v: UInt64) { key(k); text += String(v) }
    mutating func int(_ k: String, _ v: Int64) { key(k); text += String(v) }
    mutating func double(_ k: String, _ v: Double) { key(k); text += v.isFinite ? "\(v)" : "null" }
    mutating func bool(_ k: String, _ v: Bool) { key(k); text += v ? "true" : "false" }
    mutating func strings(_ k: String, _ v: [String]) { key(k); text += "[" + v.map(Self.quote).joined(separator: ",") + "]" }
    mutating func headers(_ k: String, _ hs: [HeaderField]) {
        key(k)
        text += "[" + hs.map { "{\"name\":\(Self.quote($0.name)),\"value\":\(Self.quote($0.value))}" }.joined(separator: ",") + "]"
    }
    mutating func body(_ k: String, _ bytes: [UInt8]) {
        if let s = String(validating: bytes, as: UTF8.self) { string(k, s) } else {
            string(k, Base64.encode(bytes)); string(k + "_encoding", "base64")
        }
    }
    mutating func flags(_ k: String, _ f: ExchangeFlags) {
        let names: [(ExchangeFlags, String)] = [(.stream, "stream"), (.forcedStream, "forced_stream"),
            (.truncated, "truncated"), (.repeatCut, "repeat_cut"), (.cacheUsed, "cache_used"),
            (.imported, "imported"), (.gzipResponse, "gzip_response")]
        var list = names.filter { f.contains($0.0) }.map(\.1)
        let known = names.reduce(UInt64(0)) { $0 | $1.0.rawValue }
        if f.rawValue & ~known != 0 { list.append("0x" + String(f.rawValue & ~known, radix: 16)) }
        strings(k, list)
    }
    func finished() -> String { text + "}" }

    static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static func encode(_ b: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((b.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < b.count {
            let n = UInt32(b[i]) << 16 | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2])
            for s in [18, 12, 6, 0] { out.append(alphabet[Int((n >> UInt32(s)) & 63)]) }
            i += 3
        }
        let rest = b.count - i
        if rest > 0 {
            let n = UInt32(b[i]) << 16 | (rest == 2 ? UInt32(b[i + 1]) << 8 : 0)
            out.append(alphabet[Int(n >> 18 & 63)]); out.append(alphabet[Int(n >> 12 & 63)])
            out.append(rest == 2 ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "=")); out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// RFC 3339 timestamps in UTC with microseconds: `2026-11-23T19:09:30.123456Z`.
public enum RFC3339 {
    public static func format(micros: Int64) -> String {
        let secs = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let us = micros - secs * 1_000_000
        var days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let sod = secs - days * 86400
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2)).\(pad(us, 6))Z"
    }
}
