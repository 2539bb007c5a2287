import PalaceLog
import PalaceWire

/// The index row of one exchange while it is being built from its records (begin → chunks → end → annotations).
///
/// Invariant: `values` holds only columns of `exchanges`; the request side (skeleton, prompt text) is derived as
/// soon as the whole request body is known, so an open exchange keeps at most its response bytes in memory.
struct ExchangeRow {
    static let columns = (IndexSchema.sharedColumns + IndexSchema.indexOnlyColumns).map(\.0)
    static let insertSQL = "INSERT OR REPLACE INTO exchanges (\(columns.map { "\"\($0)\"" }.joined(separator: ", "))) "
        + "VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
    /// Bodies larger than this are not parsed while indexing (their JSON paths are decided from the log).
    static let maxParsedBody = 4 << 20

    var values: [String: SQLiteValue] = [:]
    var id: Int64
    var positions: [RecordPosition] = []
    var requestBody: [UInt8] = []
    var requestComplete = false
    var responseChunks: [(UInt64, [UInt8])] = []
    var responseOverflow = false
    var prompt = ""
    var answer = ""
    var jsonState: Int64 = 0
    var tags: [String] = []

    init(begin: ExchangeBegin, position: RecordPosition) {
        id = Int64(begin.exchangeID)
        let (path, query) = Self.split(begin.target)
        values = [
            "id": .integer(id), "state": .text("in_flight"), "started_at": .integer(begin.startedAt),
            "method": .text(begin.method), "path": .text(path), "query": .text(query),
            "endpoint": Optional(begin.endpoint).sqlNullIfEmpty,
            "client_request_id": begin.clientRequestID.sqlNullIfEmpty,
            "stream": .integer(begin.flags.contains(.stream) ? 1 : 0), "flags": .integer(Int64(begin.flags.rawValue)),
            "request_content_type": Self.contentType(begin.requestHeaders).sqlNullIfEmpty,
            "request_bytes": .integer(Int64(begin.requestBody.count)),
            "begin_segment": .integer(Int64(bitPattern: position.segment)),
            "begin_offset": .integer(Int64(bitPattern: position.offset)),
        ]
        requestBody = begin.requestBody
        requestComplete = begin.requestBodyComplete
        if requestComplete { deriveRequest() }
    }

    static func split(_ target: String) -> (String, String) {
        guard let q = target.firstIndex(of: "?") else { return (target, "") }
        return (String(target[..<q]), String(target[target.index(after: q)...]))
    }

    static func contentType(_ headers: [HeaderField]) -> String? {
        guard let v = headers.first(where: { $0.name.lowercased() == "content-type" })?.value else { return nil }
        return String(v.split(separator: ";").first ?? "").trimmingSpaces.lowercased()
    }

    mutating func add(chunk: ExchangeChunk, position: RecordPosition) {
        positions.append(position)
        switch chunk.direction {
        case .request:
            if requestBody.count + chunk.bytes.count <= Self.maxParsedBody { requestBody += chunk.bytes }
            else { jsonState |= 1; requestBody = [] }
        case .response:
            let size = responseChunks.reduce(0) { $0 + $1.1.count }
            if size + chunk.bytes.count <= Self.maxParsedBody { responseChunks.append((chunk.offset, chunk.bytes)) }
            else { responseOverflow = true; responseChunks = [] }
        }
    }

    /// Skeleton, prompt text and model of the request, then the bytes are dropped.
    mutating func deriveRequest() {
        switch JSONSkeleton.of(requestBody) {
        case .json(let s):
            values["req_json"] = .text(s)
            if let v = try? JSONValue.parse(requestBody) {
                prompt = SearchText.prompt(of: v)
                if values["model"] == nil, let m = v["model"]?.stringValue { values["model"] = .text(m) }
            }
        case .notJSON: values["req_json"] = .null
        case .unknown: jsonState |= 1
        }
        requestBody = []
        requestComplete = true
    }

    mutating func apply(end: ExchangeEnd, position: RecordPosition) {
        positions.append(position)
        if !requestComplete { deriveRequest() }
        let t = end.timings
        func ms(_ us: Int64?) -> SQLiteValue { us.map { .real(Double($0) / 1000) } ?? .null }
        func real(_ d: Double?) -> SQLiteValue { d.map(SQLiteValue.real) ?? .null }
        values["state"] = .text("complete")
        values["ended_at"] = .integer(end.endedAt)
        values["status"] = end.status == 0 ? .null : .integer(Int64(end.status))
        values["response_content_type"] = Self.contentType(end.responseHeaders).sqlNullIfEmpty
        values["request_id"] = end.requestID.sqlNullIfEmpty
        values["chatcmpl"] = end.chatcmplID.sqlNullIfEmpty
        values["user_id"] = end.uid.sqlNullIfEmpty
        values["group_id"] = end.gid.sqlNullIfEmpty
        if let m = end.model, !m.isEmpty { values["model"] = .text(m) }
        if let u = end.usage {
            values["prompt_tokens"] = .integer(Int64(u.promptTokens))
            values["completion_tokens"] = .integer(Int64(u.completionTokens))
            values["total_tokens"] = .integer(Int64(u.totalTokens))
            values["cached_tokens"] = .integer(Int64(u.cachedTokens))
        }
        values["finish_reason"] = end.finishReasons.first.sqlNullIfEmpty
        values["server_timing"] = real(t.serverTimingMs)
        values["ttfb_ms"] = ms(t.ttfb)
        values["ttft_ms"] = ms(t.ttft)
        values["latency_ms"] = ms(t.total)
        values["tpot_ms"] = real(t.tpotMs)
        values["otps"] = real(t.outputTokensPerSecond)
        values["error_step"] = Optional(end.failure?.step).flatMap { $0 }.sqlNullIfEmpty
        values["error"] = Optional(end.failure?.message).flatMap { $0 }.sqlNullIfEmpty
        values["warnings"] = end.warnings.isEmpty ? .null : .text(end.warnings.joined(separator: "\n"))
        let flags = ExchangeFlags(rawValue: UInt64(values["flags"]?.int64 ?? 0)).union(end.flags)
        values["flags"] = .integer(Int64(bitPattern: flags.rawValue))
        if flags.contains(.stream) { values["stream"] = .integer(1) }
        values["request_bytes"] = .integer(Int64(end.requestBodyLength))
        values["response_bytes"] = .integer(Int64(end.responseBodyLength))
        deriveResponse(end: end, stream: flags.contains(.stream))
    }

    mutating func deriveResponse(end: ExchangeEnd, stream: Bool) {
        let body: [UInt8]
        if stream {
            guard let merged = end.mergedCompletion else { jsonState |= 2; return }
            body = merged
        } else {
            guard !responseOverflow else { jsonState |= 2; return }
            var b: [UInt8] = []
            for (off, bytes) in responseChunks.sorted(by: { $0.0 < $1.0 }) where Int(off) == b.count { b += bytes }
            if Int(end.responseBodyOffset) == b.count { b += end.responseBody } else { jsonState |= 2; return }
            body = b
        }
        responseChunks = []
        switch JSONSkeleton.of(body) {
        case .json(let s):
            values["resp_json"] = .text(s)
            if let v = try? JSONValue.parse(body) { answer = SearchText.answer(of: v) }
        case .notJSON: values["resp_json"] = .null
        case .unknown: jsonState |= 2
        }
    }

    mutating func apply(annotation a: Annotation) {
        if let c = a.category { values["category"] = c.isEmpty ? .null : .text(c) }
        tags = Self.applyTags(tags, add: a.addTags, remove: a.removeTags)
        values["tags"] = tags.isEmpty ? .null : .text(tags.joined(separator: ","))
    }

    static func applyTags(_ tags: [String], add: [String], remove: [String]) -> [String] {
        var out = tags.filter { !remove.contains($0) }
        for t in add where !out.contains(t) { out.append(t) }
        return out
    }

    /// The row as parameters for `insertSQL`.
    func parameters() -> [SQLiteValue] {
        var v = values
        v["json_state"] = .integer(jsonState)
        v["positions"] = .blob(PositionList.encode(positions))
        return Self.columns.map { v[$0] ?? .null }
    }
}

/// Record positions packed as unsigned LEB128 varints: segment, offset, segment, offset, …
enum PositionList {
    static func encode(_ ps: [RecordPosition]) -> [UInt8] {
        var out: [UInt8] = []
        func put(_ x: UInt64) {
            var v = x
            while v >= 0x80 { out.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
            out.append(UInt8(v))
        }
        for p in ps { put(p.segment); put(p.offset) }
        return out
    }

    static func decode(_ bytes: [UInt8]) -> [RecordPosition] {
        var nums: [UInt64] = [], cur: UInt64 = 0, shift: UInt64 = 0
        for b in bytes {
            cur |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { nums.append(cur); cur = 0; shift = 0 } else { shift += 7 }
        }
        return stride(from: 0, to: nums.count - 1, by: 2).map { RecordPosition(segment: nums[$0], offset: nums[$0 + 1]) }
    }
}
