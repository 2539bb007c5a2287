/// Per model and day (local time): requests, errors, tokens, p50/p95 latency and TTFT.
public struct StatsRow: Sendable, Equatable {
    public var day: String
    public var model: String
    public var requests = 0
    public var errors = 0
    public var promptTokens = 0
    public var completionTokens = 0
    public var cachedTokens = 0
    public var latencyP50: Double?
    public var latencyP95: Double?
    public var ttftP50: Double?
    public var ttftP95: Double?
}

extension ExchangeIndex {
    /// Aggregates over the exchanges `q` selects (its limit is ignored). Rows sorted by day, then model.
    /// "Error" is MoonPalace's notion: no status, status ≥ 400, or a proxy error.
    public func stats(_ q: ListQuery) throws -> [StatsRow] {
        var all = q
        all.limit = nil
        let select = """
            SELECT date(started_at / 1000000, 'unixepoch', 'localtime'), coalesce(model, '-'),
                   (status IS NULL OR status >= 400 OR error IS NOT NULL), coalesce(prompt_tokens, 0),
                   coalesce(completion_tokens, 0), coalesce(cached_tokens, 0), latency_ms, ttft_ms
            FROM exchanges
            """
        var groups: [String: (StatsRow, [Double], [Double])] = [:]
        func add(_ s: SQLiteStatement) {
            let day = s.text(at: 0) ?? "", model = s.text(at: 1) ?? "-"
            var g = groups[day + "\u{0}" + model] ?? (StatsRow(day: day, model: model), [], [])
            g.0.requests += 1
            g.0.errors += Int(s.int64(at: 2) ?? 0)
            g.0.promptTokens += Int(s.int64(at: 3) ?? 0)
            g.0.completionTokens += Int(s.int64(at: 4) ?? 0)
            g.0.cachedTokens += Int(s.int64(at: 5) ?? 0)
            if let l = s.double(at: 6) { g.1.append(l) }
            if let t = s.double(at: 7) { g.2.append(t) }
            groups[day + "\u{0}" + model] = g
        }
        if q.predicates.isEmpty && (q.text ?? "").isEmpty {
            // Everything SQL can decide: one pass, no id list.
            let f = all.filters
            let s = try db.prepareUncached(select + " WHERE \(f.text)")
            try s.bind(f.params)
            while try s.step() { add(s) }
        } else {
            let ids = try self.ids(all)
            let s = try db.prepare(select + " WHERE id = ?")
            for id in ids {
                try s.bind([.integer(id)])
                if try s.step() { add(s) }
                s.reset()
            }
        }
        return groups.values.map { g in
            var r = g.0
            let l = g.1.sorted(), t = g.2.sorted()
            r.latencyP50 = Self.percentile(l, 0.50); r.latencyP95 = Self.percentile(l, 0.95)
            r.ttftP50 = Self.percentile(t, 0.50); r.ttftP95 = Self.percentile(t, 0.95)
            return r
        }.sorted { ($0.day, $0.model) < ($1.day, $1.model) }
    }

    /// Nearest-rank percentile of sorted values.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[max(0, min(sorted.count - 1, rank - 1))]
    }
}
