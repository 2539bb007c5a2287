/// Whether an exchange has finished.
public enum ExchangeState: String, Sendable {
    /// Its end record is in the log.
    case complete
    /// No end record and no writer is going to add one (the proxy died mid-exchange).
    case incomplete
    /// No end record yet, but a live writer may still add it (decided by the caller, who knows about the writer).
    case inFlight = "in-flight"
}

/// One exchange reassembled from its records (begin + chunks + end + annotations).
/// Bodies are rebuilt by offset: `requestBody` = begin's body + request chunks; `responseBody` = response chunks +
/// end's tail. Annotations apply in log order (category replaced, tags added/removed).
public struct Exchange: Sendable {
    public var begin: ExchangeBegin
    public var end: ExchangeEnd?
    public var requestBody: [UInt8]
    public var responseBody: [UInt8]
    /// When the response body's reads arrived (since 1.2; empty when the records carry no arrival times).
    public var responseArrivals: [BodyArrival]
    public var category: String?
    public var tags: [String]
    /// Positions of every record of this exchange, in log order.
    public var positions: [RecordPosition]
    public var state: ExchangeState

    public var id: UInt64 { begin.exchangeID }
}

/// Collects records (in log order) into exchanges. Tombstoned exchanges are dropped.
public struct ExchangeAssembler: Sendable {
    private struct Parts: Sendable {
        var begin: ExchangeBegin?
        var end: ExchangeEnd?
        var requestPieces: [(UInt64, [UInt8])] = []
        var responsePieces: [(UInt64, [UInt8])] = []
        var arrivals: [(offset: UInt64, arrivals: BodyArrivals)] = []
        var category: String?
        var tags: [String] = []
        var positions: [RecordPosition] = []
    }
    private var parts: [UInt64: Parts] = [:]
    public private(set) var tombstoned: Set<UInt64> = []

    public init() {}

    public mutating func add(_ stored: StoredRecord) {
        let id = stored.record.exchangeID
        switch stored.record {
        case .tombstone(let t):
            for x in t.exchangeIDs { tombstoned.insert(x); parts[x] = nil }
            return
        default:
            if tombstoned.contains(id) { return }
        }
        var p = parts[id] ?? Parts()
        p.positions.append(stored.position)
        switch stored.record {
        case .begin(let b): p.begin = b; p.requestPieces.append((0, b.requestBody))
        case .chunk(let c):
            if c.direction == .request { p.requestPieces.append((c.offset, c.bytes)) } else {
                p.responsePieces.append((c.offset, c.bytes))
                p.arrivals.append((c.offset, c.arrivals))
            }
        case .end(let e):
            p.end = e
            p.responsePieces.append((e.responseBodyOffset, e.responseBody))
            p.arrivals.append((e.responseBodyOffset, e.arrivals))
        case .annotation(let a):
            if let c = a.category { p.category = c.isEmpty ? nil : c }
            for t in a.addTags where !p.tags.contains(t) { p.tags.append(t) }
            p.tags.removeAll { a.removeTags.contains($0) }
        case .tombstone: break
        }
        parts[id] = p
    }

    /// The exchange with this id, if its begin record has been seen.
    public func exchange(_ id: UInt64) -> Exchange? {
        guard let p = parts[id], let begin = p.begin else { return nil }
        return Exchange(begin: begin, end: p.end, requestBody: Self.join(p.requestPieces),
                        responseBody: Self.join(p.responsePieces), responseArrivals: BodyArrivals.join(p.arrivals), category: p.category, tags: p.tags,
                        positions: p.positions, state: p.end == nil ? .incomplete : .complete)
    }

    /// All exchanges seen (with a begin record), by id.
    public var exchanges: [Exchange] { parts.keys.sorted().compactMap { exchange($0) } }

    /// Pieces placed at their offsets; overlaps keep the later piece's bytes, gaps are not invented.
    static func join(_ pieces: [(UInt64, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        for (offset, bytes) in pieces.sorted(by: { $0.0 < $1.0 }) where !bytes.isEmpty {
            let start = Int(offset)
            if start >= out.count { out.append(contentsOf: bytes); continue }
            let overlap = min(bytes.count, out.count - start)
            out.replaceSubrange(start..<(start + overlap), with: bytes[0..<overlap])
            out.append(contentsOf: bytes[overlap...])
        }
        return out
    }
}

extension LogReader {
    /// Reassembles exchange `id`, reading from sequence `from` (e.g. the begin record's sequence from the index)
    /// until its end record (annotations written after the end are not included). Nil when no begin record is found
    /// or the exchange is tombstoned.
    public func exchange(id: UInt64, from sequence: UInt64 = 0) -> Exchange? {
        var assembler = ExchangeAssembler()
        for stored in records(from: sequence) {
            let rid = stored.record.exchangeID
            if case .tombstone(let t) = stored.record, t.exchangeIDs.contains(id) { return nil }
            guard rid == id else { continue }
            assembler.add(stored)
            if case .end = stored.record { break }
        }
        return assembler.exchange(id)
    }
}
