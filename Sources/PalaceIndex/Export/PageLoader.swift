import PalaceLog

/// Loads a page of exchanges for `BatchExport`: their summaries with one SELECT over the page's id range, and
/// their records with one sequential pass over the log range they occupy, instead of one query and one random
/// read per exchange (`LogReader.read(at:)` opens the segment and reads a 1 MiB window each time, which
/// dominated a batch export).
///
/// Invariants: returns only exchanges whose begin (and, when the index knows more records, every listed record)
/// was found in the range; anything missing is left to the caller's per-exchange fallback (`index.exchange(id:)`),
/// so the result never differs from what `inspect` shows. Memory: one page of exchanges.
struct PageLoader {
    let index: ExchangeIndex

    struct Page {
        var summaries: [Int64: ExchangeSummary] = [:]
        var records: [Int64: LoadedExchange] = [:]
    }

    /// The records of one exchange as the pass finds them.
    final class Parts {
        let begin: ExchangeBegin
        var end: ExchangeEnd?
        var request: [(offset: UInt64, bytes: [UInt8])] = []
        var response: [(offset: UInt64, bytes: [UInt8])] = []
        var found = 0
        init(_ begin: ExchangeBegin) { self.begin = begin }
    }

    func load(_ ids: [Int64]) -> Page {
        guard let lo = ids.min(), let hi = ids.max() else { return Page() }
        // A sparse page (a rare match spread over a long history) would scan far more than it loads: random reads.
        guard hi - lo < Int64(ids.count) * 8 + 64 else { return Page() }
        let wanted = Set(ids)
        var page = Page()
        var first: RecordPosition?
        var last: RecordPosition?
        var expected: [Int64: Int] = [:]
        expected.reserveCapacity(ids.count)
        page.summaries.reserveCapacity(ids.count)
        guard let stmt = try? index.db.prepare(
            "SELECT begin_segment, begin_offset, positions, \(ExchangeSummary.selectList) FROM exchanges WHERE id BETWEEN ? AND ?")
        else { return Page() }
        defer { stmt.reset() }
        do {
            try stmt.bind([.integer(lo), .integer(hi)])
            let width = stmt.columnCount
            while try stmt.step() {
                let r = (0..<width).map { stmt.value(at: $0) }
                let summary = ExchangeSummary(row: Array(r[3...]))
                let id = summary.id
                guard wanted.contains(id) else { continue }
                page.summaries[id] = summary
                guard let seg = r[0].int64, let off = r[1].int64 else { continue }
                let begin = RecordPosition(segment: UInt64(seg), offset: UInt64(off))
                var positions: [RecordPosition] = []
                if case .blob(let b) = r[2] { positions = PositionList.decode(b, begin: begin) }
                expected[id] = positions.count
                if first.map({ begin < $0 }) ?? true { first = begin }
                let end = positions.max() ?? begin
                if last.map({ end > $0 }) ?? true { last = end }
            }
        } catch {
            return Page()
        }
        guard let first, let last else { return page }
        var parts: [Int64: Parts] = [:]
        parts.reserveCapacity(expected.count)
        for stored in index.reader.records(fromPosition: first) {
            if stored.position > last { break }
            let id = Int64(stored.record.exchangeID)
            guard expected[id] != nil else { continue }
            switch stored.record {
            case .begin(let b): parts[id] = Parts(b)
            case .chunk(let c):
                guard let p = parts[id] else { continue }
                if c.direction == .request { p.request.append((c.offset, c.bytes)) } else { p.response.append((c.offset, c.bytes)) }
                p.found += 1
            case .end(let e):
                guard let p = parts[id] else { continue }
                p.end = e
                p.found += 1
            default: continue
            }
        }
        page.records.reserveCapacity(parts.count)
        for (id, p) in parts where p.found == expected[id] {
            let request = Self.joined(p.begin.requestBody, p.request, [])
            let response = Self.joined([], p.response, p.end?.responseBody ?? [])
            page.records[id] = LoadedExchange(begin: p.begin, end: p.end, requestBody: request, responseBody: response)
        }
        return page
    }

    /// `head`, the parts in offset order, then `tail`, concatenated into one exact-size array (one copy of each
    /// byte; a lone piece is shared, not copied).
    static func joined(_ head: [UInt8], _ parts: [(offset: UInt64, bytes: [UInt8])], _ tail: [UInt8]) -> [UInt8] {
        if parts.isEmpty { return head.isEmpty ? tail : tail.isEmpty ? head : head + tail }
        if parts.count == 1 && head.isEmpty && tail.isEmpty { return parts[0].bytes }
        let ordered = parts.count == 1 ? parts : parts.sorted(by: { $0.offset < $1.offset })
        var body: [UInt8] = []
        body.reserveCapacity(head.count + ordered.reduce(0) { $0 + $1.bytes.count } + tail.count)
        body += head
        for part in ordered { body += part.bytes }
        body += tail
        return body
    }
}
