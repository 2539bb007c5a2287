import PalaceLog
import PalaceWire

/// The index row of one exchange while it is being built from its records (begin → chunks → end → annotations).
///
/// Invariants:
/// - `values` holds the stored columns of `exchanges` in `IndexSchema.storedColumns` order (no per-row
///   dictionary: indexing a million exchanges must not hash forty keys each).
/// - The request side (validity, prompt text, model) is derived as soon as the whole request body is known, so an
///   open exchange keeps at most its response bytes in memory. Bodies are read with `JSONBytes` (no tree).
struct ExchangeRow {
    static let columns = IndexSchema.storedColumns.map(\.0)
    static let insertSQL = "INSERT OR REPLACE INTO exchanges (\(columns.map { "\"\($0)\"" }.joined(separator: ", "))) "
        + "VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
    /// The same columns for a row that is not in the table yet (fails on an existing id).
    static let insertNewSQL = "INSERT" + insertSQL.dropFirst("INSERT OR REPLACE".count)
    /// Bodies larger than this are not checked while indexing (their JSON paths are decided from the log).
    static let maxParsedBody = 4 << 20

    /// Column positions in `values`.
    enum C {
        static let id = 0, startedAt = 1, endUs = 2, stateCode = 3, status = 4, codes = 5, model = 6, chatcmpl = 7,
                   requestID = 8, userID = 9, groupID = 10, stream = 11, promptTokens = 12, completionTokens = 13,
                   totalTokens = 14, cachedTokens = 15, serverTimingUs = 16, ttfbUs = 17, ttftUs = 18, latencyUs = 19,
                   tpotUs = 20, otpsMilli = 21, requestBytes = 22, responseBytes = 23, flags = 24, jsonState = 25,
                   category = 26, tags = 27, raw = 28, beginSegment = 29, beginOffset = 30, positions = 31,
                   requestSkel = 32, responseSkel = 33
    }

    var values: [SQLiteValue]
    var id: Int64
    var positions: [RecordPosition] = []
    var requestBody: [UInt8] = []
    var requestComplete = false
    var responseChunks: [(UInt64, [UInt8])] = []
    var responseOverflow = false
    /// The full-text sides as UTF-8 (`SearchText`), kept as bytes: the indexer never needs them as `String`s.
    var promptText: [UInt8] = []
    var answerText: [UInt8] = []
    var prompt: String { String(decoding: promptText, as: UTF8.self) }
    var answer: String { String(decoding: answerText, as: UTF8.self) }
    var jsonState: Int64 = 0
    var tags: [String] = []
    var codes: Int64 = 0
    /// Rare values kept in the `raw` JSON column, in a fixed key order.
    var raw: [(String, String)] = []
    var begin: RecordPosition
    static let stateComplete: Int64 = 0, stateInFlight: Int64 = 1, stateIncomplete: Int64 = 2

    init(begin: ExchangeBegin, position: RecordPosition) {
        id = Int64(begin.exchangeID)
        self.begin = position
        values = Array(repeating: .null, count: Self.columns.count)
        values[C.id] = .integer(id)
        values[C.stateCode] = .integer(Self.stateInFlight)
        values[C.startedAt] = .integer(begin.startedAt)
        let (path, query) = Self.split(begin.target)
        setCoded(table: Self.methodCode, begin.method)
        setCoded(table: Self.pathCode, path)
        if !query.isEmpty { setRaw("query", query) }
        if !begin.endpoint.isEmpty { setCoded(table: Self.endpointCode, begin.endpoint) }
        if let c = begin.clientRequestID, !c.isEmpty { setRaw("client_request_id", c) }
        values[C.stream] = .integer(begin.flags.contains(.stream) ? 1 : 0)
        values[C.flags] = .integer(Int64(bitPattern: begin.flags.rawValue))
        if let ct = Self.contentType(begin.requestHeaders), !ct.isEmpty { setCoded(table: Self.requestContentTypeCode, ct) }
        values[C.requestBytes] = .integer(Int64(begin.requestBody.count))
        values[C.beginSegment] = .integer(Int64(bitPattern: position.segment))
        values[C.beginOffset] = .integer(Int64(bitPattern: position.offset))
        requestBody = begin.requestBody
        requestComplete = begin.requestBodyComplete
        if requestComplete { deriveRequest() }
    }

    /// `IndexSchema.codeTables` by field name (looked up once per call site, not hashed per row).
    static let codeTables = IndexSchema.codeTables

    /// Position of `field` in `codeTables`.
    static func codeTable(_ field: String) -> Int? { codeTables.firstIndex { $0.field == field } }
    static let methodCode = codeTable("method")!, pathCode = codeTable("path")!, endpointCode = codeTable("endpoint")!,
               finishReasonCode = codeTable("finish_reason")!, requestContentTypeCode = codeTable("request_content_type")!,
               responseContentTypeCode = codeTable("response_content_type")!

    /// Stores a common string of the field of `codeTables[table]` as its code, anything else in `raw`. The few
    /// values are compared in order (cheaper than hashing the string).
    mutating func setCoded(table: Int, _ value: String) {
        let t = Self.codeTables[table]
        let mask = Int64((1 << t.bits) - 1) << Int64(t.shift)
        codes &= ~mask
        if !raw.isEmpty { raw.removeAll { $0.0 == t.field } }
        if let k = t.values.firstIndex(of: value) {
            codes |= Int64(k + 1) << Int64(t.shift)
        } else {
            raw.append((t.field, value))
        }
    }

    mutating func setRaw(_ field: String, _ value: String?) {
        if !raw.isEmpty { raw.removeAll { $0.0 == field } }
        if let value { raw.append((field, value)) }
    }

    static func split(_ target: String) -> (String, String) {
        guard let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return (target, "") }
        return (String(target[..<q]), String(target[target.index(after: q)...]))
    }

    static func contentType(_ headers: [HeaderField]) -> String? {
        guard var v = headers.first(where: { isContentType($0.name) })?.value else { return nil }
        // Bytes up to the first ';', spaces trimmed, lowercased; on the UTF-8 bytes for ASCII values (every one
        // seen in practice), through `String` otherwise.
        // `same`: the value is already its own result (the usual "application/json"): no new string.
        var same = false
        let fast: String? = v.withUTF8 { u in
            var a = 0, z = u.firstIndex(of: UInt8(ascii: ";")) ?? u.count
            if z == 0 && !u.isEmpty { return nil }   // split(separator:) would skip the empty first piece
            while a < z && u[a] == 0x20 { a += 1 }
            while z > a && u[z - 1] == 0x20 { z -= 1 }
            var plain = a == 0 && z == u.count
            for k in a..<z {
                let c = u[k]
                guard c < 0x80 else { return nil }
                if c >= 0x41 && c <= 0x5A { plain = false }
            }
            if plain { same = true; return nil }
            var lower = [UInt8](repeating: 0, count: z - a)
            for k in a..<z {
                let c = u[k]
                lower[k - a] = c >= 0x41 && c <= 0x5A ? c | 0x20 : c
            }
            return String(decoding: lower, as: UTF8.self)
        }
        if same { return v }
        return fast ?? String(v.split(separator: ";").first ?? "").trimmingSpaces.lowercased()
    }

    /// `name` is "Content-Type" in any case (no lowercased copy of every header name).
    static func isContentType(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { u in
            let want: StaticString = "content-type"
            guard u.count == want.utf8CodeUnitCount else { return false }
            let w = want.utf8Start
            for k in 0..<u.count where u[k] | 0x20 != w[k] { return false }   // '-' | 0x20 == '-'
            return true
        }
    }

    mutating func add(chunk: ExchangeChunk, position: RecordPosition) {
        positions.append(position)
        switch chunk.direction {
        case .request:
            if requestBody.count + chunk.bytes.count <= Self.maxParsedBody { requestBody += chunk.bytes }
            else { jsonState |= 4; requestBody = [] }
        case .response:
            let size = responseChunks.reduce(0) { $0 + $1.1.count }
            if size + chunk.bytes.count <= Self.maxParsedBody { responseChunks.append((chunk.offset, chunk.bytes)) }
            else { responseOverflow = true; responseChunks = [] }
        }
    }

    /// Validity, prompt text and model of the request, then the bytes are dropped.
    mutating func deriveRequest() {
        if jsonState & 4 == 0 {
            requestBody.withUnsafeBufferPointer { b in
                let (valid, skeleton) = BodySkeleton.validated(b)
                if valid {
                    jsonState |= 1
                    promptText = SearchText.promptBytes(of: b)
                    values[C.requestSkel] = skeleton.map(SQLiteValue.blob) ?? .null
                    if values[C.model] == .null {
                        var root = 0
                        JSONBytes.skipSpace(b, &root)
                        if let m = JSONBytes.member(b, objectAt: root, key: "model"), let s = JSONBytes.string(b, at: m) {
                            values[C.model] = .text(s)
                        }
                    }
                }
            }
        }
        requestBody = []
        requestComplete = true
    }

    mutating func apply(end: ExchangeEnd, position: RecordPosition) {
        positions.append(position)
        if !requestComplete { deriveRequest() }
        let t = end.timings
        func us(_ v: Int64?) -> SQLiteValue { v.map(SQLiteValue.integer) ?? .null }
        func milli(_ d: Double?) -> SQLiteValue {
            guard let d, d.isFinite, abs(d) < 9e15 else { return .null }
            return .integer(Int64((d * 1000).rounded()))
        }
        func text(_ s: String?) -> SQLiteValue { s.sqlNullIfEmpty }
        values[C.stateCode] = .integer(Self.stateComplete)
        values[C.endUs] = .integer(end.endedAt &- (values[C.startedAt].int64 ?? 0))
        values[C.status] = end.status == 0 ? .null : .integer(Int64(end.status))
        if let ct = Self.contentType(end.responseHeaders), !ct.isEmpty { setCoded(table: Self.responseContentTypeCode, ct) }
        values[C.requestID] = text(end.requestID)
        values[C.chatcmpl] = text(end.chatcmplID)
        values[C.userID] = text(end.uid)
        values[C.groupID] = text(end.gid)
        if let m = end.model, !m.isEmpty { values[C.model] = .text(m) }
        if let u = end.usage {
            values[C.promptTokens] = .integer(Int64(u.promptTokens))
            values[C.completionTokens] = .integer(Int64(u.completionTokens))
            values[C.totalTokens] = .integer(Int64(u.totalTokens))
            values[C.cachedTokens] = .integer(Int64(u.cachedTokens))
        }
        if let f = end.finishReasons.first, !f.isEmpty { setCoded(table: Self.finishReasonCode, f) }
        values[C.serverTimingUs] = milli(t.serverTimingMs)
        values[C.ttfbUs] = us(t.ttfb)
        values[C.ttftUs] = us(t.ttft)
        values[C.latencyUs] = us(t.total)
        values[C.tpotUs] = milli(t.tpotMs)
        values[C.otpsMilli] = milli(t.outputTokensPerSecond)
        if let f = end.failure {
            if !f.step.isEmpty { setRaw("error_step", f.step) }
            if !f.message.isEmpty { setRaw("error", f.message) }
        }
        if !end.warnings.isEmpty { setRaw("warnings", end.warnings.joined(separator: "\n")) }
        let flags = ExchangeFlags(rawValue: UInt64(bitPattern: values[C.flags].int64 ?? 0)).union(end.flags)
        values[C.flags] = .integer(Int64(bitPattern: flags.rawValue))
        if flags.contains(.stream) { values[C.stream] = .integer(1) }
        values[C.requestBytes] = .integer(Int64(end.requestBodyLength))
        values[C.responseBytes] = .integer(Int64(end.responseBodyLength))
        deriveResponse(end: end, stream: flags.contains(.stream))
    }

    mutating func deriveResponse(end: ExchangeEnd, stream: Bool) {
        defer { responseChunks = [] }
        if stream {
            // Predicates see a stream's merged completion; without one it is merged from the raw events when needed.
            guard let merged = end.mergedCompletion else { jsonState |= 8; return }
            check(response: merged)
            return
        }
        guard !responseOverflow else { jsonState |= 8; return }
        if responseChunks.isEmpty {
            guard end.responseBodyOffset == 0 else { jsonState |= 8; return }
            check(response: end.responseBody)
            return
        }
        var b: [UInt8] = []
        for (off, bytes) in responseChunks.sorted(by: { $0.0 < $1.0 }) where Int(off) == b.count { b += bytes }
        guard Int(end.responseBodyOffset) == b.count else { jsonState |= 8; return }
        b += end.responseBody
        check(response: b)
    }

    mutating func check(response body: [UInt8]) {
        body.withUnsafeBufferPointer { b in
            let (valid, skeleton) = BodySkeleton.validated(b)
            guard valid else { return }
            jsonState |= 2
            answerText = SearchText.answerBytes(of: b)
            values[C.responseSkel] = skeleton.map(SQLiteValue.blob) ?? .null
        }
    }

    mutating func apply(annotation a: Annotation) {
        if let c = a.category { values[C.category] = c.isEmpty ? .null : .text(c) }
        tags = Self.applyTags(tags, add: a.addTags, remove: a.removeTags)
        values[C.tags] = tags.isEmpty ? .null : .text(tags.joined(separator: ","))
    }

    static func applyTags(_ tags: [String], add: [String], remove: [String]) -> [String] {
        var out = tags.filter { !remove.contains($0) }
        for t in add where !out.contains(t) { out.append(t) }
        return out
    }

    /// The row as parameters for `insertSQL`.
    func parameters() -> [SQLiteValue] {
        var v = values
        v[C.jsonState] = .integer(jsonState)
        v[C.codes] = .integer(codes)
        v[C.positions] = .blob(PositionList.encode(positions, begin: begin))
        if !raw.isEmpty { v[C.raw] = Self.rawText(raw) }
        return v
    }

    /// The `raw` column's JSON text of the last row written with this memo (one per writer): rows of one proxy
    /// mostly carry the same rare values (an endpoint without a code: every row), and serializing them through
    /// `JSONValue` was ~2 % of the tailer's CPU.
    final class RawMemo {
        var raw: [(String, String)] = []
        var text: SQLiteValue = .null

        func text(for raw: [(String, String)]) -> SQLiteValue {
            if raw.count == self.raw.count && zip(raw, self.raw).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1 }) { return text }
            self.raw = raw
            text = ExchangeRow.rawText(raw)
            return text
        }
    }

    static func rawText(_ raw: [(String, String)]) -> SQLiteValue {
        .text(JSONValue.object(JSONObject(raw.map { ($0.0, JSONValue.string($0.1)) })).serialized())
    }

    /// Inserts the row with `insertSQL` (bound straight from `values`, no copy of the array).
    func insert(with s: SQLiteStatement, memo: RawMemo? = nil) throws {
        s.reset()
        for i in values.indices where i != C.jsonState && i != C.codes && i != C.positions && i != C.raw {
            try s.bind(values[i], at: Int32(i + 1))
        }
        try s.bind(.integer(jsonState), at: Int32(C.jsonState + 1))
        try s.bind(.integer(codes), at: Int32(C.codes + 1))
        try s.bind(.blob(PositionList.encode(positions, begin: begin)), at: Int32(C.positions + 1))
        try s.bind(raw.isEmpty ? values[C.raw] : memo?.text(for: raw) ?? Self.rawText(raw), at: Int32(C.raw + 1))
        try s.step()
        s.reset()
    }

    /// The full-text document (UTF-8): prompt and answer joined by a newline. The `palace` tokenizer lays CJK out
    /// as it reads (the tokens of `CJKSegmenter.document(prompt:answer:)` under unicode61).
    var searchDocument: [UInt8] {
        guard !promptText.isEmpty, !answerText.isEmpty else { return promptText.isEmpty ? answerText : promptText }
        var out = promptText
        out.reserveCapacity(promptText.count + 1 + answerText.count)
        out.append(0x0A)
        out.append(contentsOf: answerText)
        return out
    }
}

/// Record positions after the begin record, packed as unsigned LEB128 varints relative to the begin record:
/// segment − begin segment, then the offset − begin offset in the begin's segment or the absolute offset in a
/// later one (a typical end record costs 3 bytes).
enum PositionList {
    static func encode(_ ps: [RecordPosition], begin: RecordPosition) -> [UInt8] {
        var out: [UInt8] = []
        func put(_ x: UInt64) {
            var v = x
            while v >= 0x80 { out.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
            out.append(UInt8(v))
        }
        for p in ps {
            let ds = p.segment &- begin.segment
            put(ds)
            put(ds == 0 ? p.offset &- begin.offset : p.offset)
        }
        return out
    }

    static func decode(_ bytes: [UInt8], begin: RecordPosition) -> [RecordPosition] {
        var nums: [UInt64] = [], cur: UInt64 = 0, shift: UInt64 = 0
        for b in bytes {
            cur |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { nums.append(cur); cur = 0; shift = 0 } else { shift += 7 }
        }
        return stride(from: 0, to: nums.count - 1, by: 2).map {
            let ds = nums[$0]
            return RecordPosition(segment: begin.segment &+ ds, offset: ds == 0 ? begin.offset &+ nums[$0 + 1] : nums[$0 + 1])
        }
    }
}
