import PalaceLog

/// Loads the records of a page of exchanges with one sequential pass over the log range they occupy, instead of
/// one random read per record (`LogReader.read(at:)` opens the segment and reads a 1 MiB window each time, which
/// dominates a batch export). Used by `BatchExport`.
///
/// Invariants: returns only exchanges whose begin (and, when the index knows more records, every listed record)
/// was found in the range; anything missing is left to the caller's per-exchange fallback (`index.exchange(id:)`),
/// so the result never differs from what `inspect` shows. Memory: one page of exchanges.
struct PageLoader {
    let index: ExchangeIndex

    func load(_ ids: [Int64]) -> [Int64: LoadedExchange] {
        guard let lo = ids.min(), let hi = ids.max() else { return [:] }
        // A sparse page (a rare match spread over a long history) would scan far more than it loads: random reads.
        guard hi - lo < Int64(ids.count) * 8 + 64 else { return [:] }
        let wanted = Set(ids)
        var first: RecordPosition?
        var last: RecordPosition?
        var expected: [Int64: Int] = [:]
        guard let rows = try? index.db.query(
            "SELECT id, begin_segment, begin_offset, positions FROM exchanges WHERE id BETWEEN ? AND ?",
            [.integer(lo), .integer(hi)]) else { return [:] }
        for r in rows {
            guard let id = r[0].int64, wanted.contains(id), let seg = r[1].int64, let off = r[2].int64 else { continue }
            let begin = RecordPosition(segment: UInt64(seg), offset: UInt64(off))
            var positions: [RecordPosition] = []
            if case .blob(let b) = r[3] { positions = PositionList.decode(b, begin: begin) }
            expected[id] = positions.count
            if first.map({ begin < $0 }) ?? true { first = begin }
            let end = positions.max() ?? begin
            if last.map({ end > $0 }) ?? true { last = end }
        }
        guard let first, let last else { return [:] }
        var parts: [Int64: (begin: ExchangeBegin, end: ExchangeEnd?, req: [(UInt64, [UInt8])], resp: [(UInt64, [UInt8])], n: Int)] = [:]
        for stored in index.reader.records(fromPosition: first) {
            if stored.position > last { break }
            let id = Int64(stored.record.exchangeID)
            guard wanted.contains(id) else { continue }
            switch stored.record {
            case .begin(let b): parts[id] = (b, nil, [], [], 0)
            case .chunk(let c):
                guard var p = parts[id] else { continue }
                if c.direction == .request { p.req.append((c.offset, c.bytes)) } else { p.resp.append((c.offset, c.bytes)) }
                p.n += 1
                parts[id] = p
            case .end(let e):
                guard var p = parts[id] else { continue }
                p.end = e
                p.n += 1
                parts[id] = p
            default: continue
            }
        }
        var out: [Int64: LoadedExchange] = [:]
        for (id, p) in parts where p.n == expected[id] {
            var ex = LoadedExchange(begin: p.begin, end: p.end, requestBody: p.begin.requestBody, responseBody: [])
            for (_, bytes) in p.req.sorted(by: { $0.0 < $1.0 }) { ex.requestBody += bytes }
            var body: [UInt8] = []
            for (_, bytes) in p.resp.sorted(by: { $0.0 < $1.0 }) { body += bytes }
            if let e = p.end { body += e.responseBody }
            ex.responseBody = body
            out[id] = ex
        }
        return out
    }
}
