import PalaceLog

/// Reads the records of many exchanges at once for the residual check.
///
/// Invariant: returns, for each candidate whose records are still in the log, exactly the texts
/// `LoadedExchange.texts` would give (only the parts `plan` needs are filled in). A dense batch (many candidates
/// close together in the log) is read with one sequential pass from the first begin record to the last record
/// needed; a sparse one record by record through the stored positions.
extension ExchangeIndex {
    func loadTexts(_ cands: [ScanCandidate], plan: PredicatePlan) throws -> [Int64: RecordTexts] {
        guard !cands.isEmpty else { return [:] }
        var loaded: [Int64: LoadedExchange] = [:]
        let ids = cands.map(\.id)
        let span = (ids.max() ?? 0) - (ids.min() ?? 0) + 1
        if cands.count >= 16 && span <= Int64(cands.count) * 16 {
            loaded = sequential(cands)
        }
        let loader = ExchangeLoader(reader: reader)
        for c in cands where loaded[c.id] == nil {
            loaded[c.id] = try loader.load(id: c.id, begin: c.begin, positions: c.positions)
        }
        var out: [Int64: RecordTexts] = [:]
        out.reserveCapacity(loaded.count)
        let req = plan.needsRequestBody, resp = plan.needsResponseBody, headers = plan.needsHeaders
        for (id, ex) in loaded {
            out[id] = RecordTexts(
                requestBody: req ? String(decoding: ex.requestBody, as: UTF8.self) : nil,
                responseBody: resp && !(ex.end == nil && ex.responseBody.isEmpty)
                    ? String(decoding: ex.mergedResponseBody, as: UTF8.self) : nil,
                requestHeader: headers ? LoadedExchange.headerText(ex.begin.requestHeaders) : nil,
                responseHeader: headers ? ex.end.map { LoadedExchange.headerText($0.responseHeaders) } : nil)
        }
        return out
    }

    /// One forward pass over the log covering every candidate; candidates not completely found are left out
    /// (the caller reads them by position, which reports a stale index).
    private func sequential(_ cands: [ScanCandidate]) -> [Int64: LoadedExchange] {
        var want: [UInt64: Int] = [:]
        for (i, c) in cands.enumerated() { want[UInt64(bitPattern: c.id)] = i }
        guard let first = cands.map(\.begin).min(), let stop = cands.map(\.last).max() else { return [:] }
        var begins: [UInt64: ExchangeBegin] = [:], ends: [UInt64: ExchangeEnd] = [:]
        var req: [UInt64: [(UInt64, [UInt8])]] = [:], resp: [UInt64: [(UInt64, [UInt8])]] = [:]
        var remaining = cands.count
        let it = reader.records(fromPosition: first)
        while remaining > 0, let r = it.next() {
            if r.position > stop { break }
            switch r.record {
            case .begin(let b) where want[b.exchangeID] != nil:
                begins[b.exchangeID] = b
                if cands[want[b.exchangeID]!].positions.isEmpty { remaining -= 1 }
            case .chunk(let c) where want[c.exchangeID] != nil:
                if c.direction == BodyDirection.request { req[c.exchangeID, default: []].append((c.offset, c.bytes)) }
                else { resp[c.exchangeID, default: []].append((c.offset, c.bytes)) }
                if r.position == cands[want[c.exchangeID]!].last { remaining -= 1 }
            case .end(let e) where want[e.exchangeID] != nil:
                ends[e.exchangeID] = e
                if r.position == cands[want[e.exchangeID]!].last { remaining -= 1 }
            default:
                break
            }
        }
        var out: [Int64: LoadedExchange] = [:]
        for c in cands {
            let key = UInt64(bitPattern: c.id)
            guard let b = begins[key] else { continue }
            let e = ends[key]
            // Every stored position must have been seen, or the log changed behind the index.
            let seen = (req[key]?.count ?? 0) + (resp[key]?.count ?? 0) + (e == nil ? 0 : 1)
            guard seen == c.positions.count else { continue }
            var ex = LoadedExchange(begin: b, end: e, requestBody: b.requestBody, responseBody: [])
            for (_, bytes) in (req[key] ?? []).sorted(by: { $0.0 < $1.0 }) { ex.requestBody += bytes }
            var body: [UInt8] = []
            for (_, bytes) in (resp[key] ?? []).sorted(by: { $0.0 < $1.0 }) { body += bytes }
            if let e { body += e.responseBody }
            ex.responseBody = body
            out[c.id] = ex
        }
        return out
    }
}
