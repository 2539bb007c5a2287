/// Encodes a `LogRecord` into its payload: one version byte (`PayloadEncoding.version`) and TLV fields.
/// The exchange id is not in the payload (except a tombstone's list): it lives in the frame header, where the
/// writer assigns it. Field tables: FORMAT.md, "Record payloads".
enum PayloadEncoding {
    /// Payload layout version. New optional fields keep version 1; a reader refuses versions it does not know.
    static let version: UInt8 = 1

    static func encode(_ record: LogRecord) -> [UInt8] {
        var w = TLVWriter(capacity: 128 + record.bodySizeHint)
        w.bytes.append(version)
        switch record {
        case .begin(let b):
            w.sint(2, b.startedAt)
            w.string(3, b.method)
            w.string(4, b.target)
            w.string(5, b.endpoint)
            for h in b.requestHeaders { w.header(6, h) }
            w.bytes(7, b.requestBody)
            if !b.requestBodyComplete { w.uint(8, 1) }  // 1 = more request body follows in chunk records
            if let id = b.clientRequestID { w.string(9, id, omitEmpty: false) }
            w.uint(10, b.flags.rawValue)
            for h in b.meta { w.header(11, h) }
        case .chunk(let c):
            w.uint(2, UInt64(c.direction.rawValue))
            w.uint(3, c.offset)
            w.bytes(4, c.bytes)
            w.bytes(5, c.arrivals.packed)
        case .end(let e):
            w.sint(2, e.endedAt)
            w.sint(3, Int64(e.status))
            for h in e.responseHeaders { w.header(4, h) }
            w.bytes(5, e.responseBody)
            w.uint(6, e.responseBodyOffset)
            w.uint(7, e.requestBodyLength)
            w.uint(8, e.responseBodyLength)
            let t = e.timings
            if t != ExchangeTimings() {
                w.message(9) { m in
                    if let v = t.ttfb { m.sint(1, v, omitZero: false) }
                    if let v = t.ttft { m.sint(2, v, omitZero: false) }
                    if let v = t.total { m.sint(3, v, omitZero: false) }
                    if let v = t.serverTimingMs { m.double(4, v) }
                    if let v = t.tpotMs { m.double(5, v) }
                    if let v = t.outputTokensPerSecond { m.double(6, v) }
                }
            }
            if let v = e.requestID { w.string(10, v, omitEmpty: false) }
            if let v = e.chatcmplID { w.string(11, v, omitEmpty: false) }
            if let v = e.uid { w.string(12, v, omitEmpty: false) }
            if let v = e.gid { w.string(13, v, omitEmpty: false) }
            if let v = e.model { w.string(14, v, omitEmpty: false) }
            if let u = e.usage {
                w.message(15) { m in
                    m.sint(1, Int64(u.promptTokens)); m.sint(2, Int64(u.completionTokens))
                    m.sint(3, Int64(u.totalTokens)); m.sint(4, Int64(u.cachedTokens))
                }
            }
            for r in e.finishReasons { w.string(16, r, omitEmpty: false) }
            w.uint(17, e.flags.rawValue)
            for s in e.warnings { w.string(18, s, omitEmpty: false) }
            if let f = e.failure {
                w.message(19) { m in m.string(1, f.step); m.string(2, f.message) }
            }
            if let m = e.mergedCompletion { w.bytes(20, m, omitEmpty: false) }
            w.bytes(21, e.arrivals.packed)
        case .annotation(let a):
            if let c = a.category { w.string(2, c, omitEmpty: false) }
            for t in a.addTags { w.string(3, t, omitEmpty: false) }
            for t in a.removeTags { w.string(4, t, omitEmpty: false) }
        case .tombstone(let t):
            for id in t.exchangeIDs { w.uint(1, id, omitZero: false) }
            w.string(2, t.reason)
        }
        return w.bytes
    }
}

extension TLVWriter {
    /// A header (or meta pair) as a nested message {1: name, 2: value}.
    mutating func header(_ tag: UInt32, _ h: HeaderField) {
        message(tag) { m in m.string(1, h.name); m.string(2, h.value) }
    }
}

extension LogRecord {
    var bodySizeHint: Int {
        switch self {
        case .begin(let b): b.requestBody.count + b.target.utf8.count + 64 * b.requestHeaders.count
        case .chunk(let c): c.bytes.count + c.arrivals.packed.count
        case .end(let e): e.responseBody.count + (e.mergedCompletion?.count ?? 0) + 64 * e.responseHeaders.count + e.arrivals.packed.count
        case .annotation, .tombstone: 64
        }
    }
}
