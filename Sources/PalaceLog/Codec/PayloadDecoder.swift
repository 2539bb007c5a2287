/// Decodes payloads written by `PayloadEncoding`. Unknown tags are skipped (newer writers may add fields);
/// a missing field decodes as zero, empty or nil.
enum PayloadDecoder {
    struct Failure: Error { var reason: String }

    static func decode(type: RecordType, exchangeID: UInt64, payload: UnsafeRawBufferPointer) throws(Failure) -> LogRecord {
        guard payload.count >= 1 else { throw Failure(reason: "empty payload") }
        let version = payload[0]
        guard version == PayloadEncoding.version else {
            throw Failure(reason: "payload version \(version) is newer than this moonpalace understands (1)")
        }
        var r = TLVReader(UnsafeRawBufferPointer(rebasing: payload[1...]))
        do {
            switch type {
            case .begin: return .begin(try begin(&r, exchangeID))
            case .chunk: return .chunk(try chunk(&r, exchangeID))
            case .end: return .end(try end(&r, exchangeID))
            case .annotation: return .annotation(try annotation(&r, exchangeID))
            case .tombstone: return .tombstone(try tombstone(&r))
            }
        } catch {
            throw Failure(reason: "\(type.name) payload: \(error.reason)")
        }
    }

    private static func begin(_ r: inout TLVReader, _ id: UInt64) throws(TLVReader.Malformed) -> ExchangeBegin {
        var b = ExchangeBegin(exchangeID: id, startedAt: 0, method: "", target: "", endpoint: "")
        while let (tag, wire) = try r.nextField() {
            switch (tag, wire) {
            case (2, 0): b.startedAt = try r.sint()
            case (3, 2): b.method = try r.string()
            case (4, 2): b.target = try r.string()
            case (5, 2): b.endpoint = try r.string()
            case (6, 2): b.requestHeaders.append(try header(&r))
            case (7, 2): b.requestBody = try r.bytes()
            case (8, 0): b.requestBodyComplete = try r.varint() == 0
            case (9, 2): b.clientRequestID = try r.string()
            case (10, 0): b.flags = ExchangeFlags(rawValue: try r.varint())
            case (11, 2): b.meta.append(try header(&r))
            default: try r.skip(wire: wire)
            }
        }
        return b
    }

    private static func chunk(_ r: inout TLVReader, _ id: UInt64) throws(TLVReader.Malformed) -> ExchangeChunk {
        var c = ExchangeChunk(exchangeID: id, direction: .response, offset: 0, bytes: [])
        var direction: UInt64 = 0
        while let (tag, wire) = try r.nextField() {
            switch (tag, wire) {
            case (2, 0): direction = try r.varint()
            case (3, 0): c.offset = try r.varint()
            case (4, 2): c.bytes = try r.bytes()
            case (5, 2): c.arrivals = BodyArrivals(packed: try r.bytes())
            default: try r.skip(wire: wire)
            }
        }
        guard let d = BodyDirection(rawValue: UInt8(truncatingIfNeeded: direction)), direction <= 255 else {
            throw TLVReader.Malformed(reason: "chunk direction \(direction) is not 1 (request) or 2 (response)")
        }
        c.direction = d
        return c
    }

    private static func end(_ r: inout TLVReader, _ id: UInt64) throws(TLVReader.Malformed) -> ExchangeEnd {
        var e = ExchangeEnd(exchangeID: id, endedAt: 0, status: 0)
        while let (tag, wire) = try r.nextField() {
            switch (tag, wire) {
            case (2, 0): e.endedAt = try r.sint()
            case (3, 0): e.status = Int(truncatingIfNeeded: try r.sint())
            case (4, 2): e.responseHeaders.append(try header(&r))
            case (5, 2): e.responseBody = try r.bytes()
            case (6, 0): e.responseBodyOffset = try r.varint()
            case (7, 0): e.requestBodyLength = try r.varint()
            case (8, 0): e.responseBodyLength = try r.varint()
            case (9, 2): e.timings = try timings(&r)
            case (10, 2): e.requestID = try r.string()
            case (11, 2): e.chatcmplID = try r.string()
            case (12, 2): e.uid = try r.string()
            case (13, 2): e.gid = try r.string()
            case (14, 2): e.model = try r.string()
            case (15, 2): e.usage = try usage(&r)
            case (16, 2): e.finishReasons.append(try r.string())
            case (17, 0): e.flags = ExchangeFlags(rawValue: try r.varint())
            case (18, 2): e.warnings.append(try r.string())
            case (19, 2): e.failure = try failure(&r)
            case (20, 2): e.mergedCompletion = try r.bytes()
            case (21, 2): e.arrivals = BodyArrivals(packed: try r.bytes())
            default: try r.skip(wire: wire)
            }
        }
        return e
    }

    private static func annotation(_ r: inout TLVReader, _ id: UInt64) throws(TLVReader.Malformed) -> Annotation {
        var a = Annotation(exchangeID: id)
        while let (tag, wire) = try r.nextField() {
            switch (tag, wire) {
            case (2, 2): a.category = try r.string()
            case (3, 2): a.addTags.append(try r.string())
            case (4, 2): a.removeTags.append(try r.string())
            default: try r.skip(wire: wire)
            }
        }
        return a
    }

    private static func tombstone(_ r: inout TLVReader) throws(TLVReader.Malformed) -> Tombstone {
        var t = Tombstone(exchangeIDs: [], reason: "")
        while let (tag, wire) = try r.nextField() {
            switch (tag, wire) {
            case (1, 0): t.exchangeIDs.append(try r.varint())
            case (2, 2): t.reason = try r.string()
            default: try r.skip(wire: wire)
            }
        }
        return t
    }

    private static func header(_ r: inout TLVReader) throws(TLVReader.Malformed) -> HeaderField {
        var m = try r.message()
        var h = HeaderField(name: "", value: "")
        while let (tag, wire) = try m.nextField() {
            switch (tag, wire) {
            case (1, 2): h.name = try m.string()
            case (2, 2): h.value = try m.string()
            default: try m.skip(wire: wire)
            }
        }
        return h
    }

    private static func timings(_ r: inout TLVReader) throws(TLVReader.Malformed) -> ExchangeTimings {
        var m = try r.message()
        var t = ExchangeTimings()
        while let (tag, wire) = try m.nextField() {
            switch (tag, wire) {
            case (1, 0): t.ttfb = try m.sint()
            case (2, 0): t.ttft = try m.sint()
            case (3, 0): t.total = try m.sint()
            case (4, 1): t.serverTimingMs = try m.double()
            case (5, 1): t.tpotMs = try m.double()
            case (6, 1): t.outputTokensPerSecond = try m.double()
            default: try m.skip(wire: wire)
            }
        }
        return t
    }

    private static func usage(_ r: inout TLVReader) throws(TLVReader.Malformed) -> Usage {
        var m = try r.message()
        var u = Usage()
        while let (tag, wire) = try m.nextField() {
            switch (tag, wire) {
            case (1, 0): u.promptTokens = Int(truncatingIfNeeded: try m.sint())
            case (2, 0): u.completionTokens = Int(truncatingIfNeeded: try m.sint())
            case (3, 0): u.totalTokens = Int(truncatingIfNeeded: try m.sint())
            case (4, 0): u.cachedTokens = Int(truncatingIfNeeded: try m.sint())
            default: try m.skip(wire: wire)
            }
        }
        return u
    }

    private static func failure(_ r: inout TLVReader) throws(TLVReader.Malformed) -> ExchangeFailure {
        var m = try r.message()
        var f = ExchangeFailure(step: "", message: "")
        while let (tag, wire) = try m.nextField() {
            switch (tag, wire) {
            case (1, 2): f.step = try m.string()
            case (2, 2): f.message = try m.string()
            default: try m.skip(wire: wire)
            }
        }
        return f
    }
}
