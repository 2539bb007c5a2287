/// What `list` (and `search`, `cleanup --predicate`, `stats`) select: newest first, optionally paged.
public struct ListQuery: Sendable {
    /// nil or ≤ 0 = no limit (MoonPalace's `-n 0`).
    public var limit: Int?
    /// Only ids smaller than this (paging: pass the last id shown).
    public var beforeID: Int64?
    /// Unix µs bounds on `requested_at` (`since` inclusive, `until` exclusive).
    public var since: Int64?
    public var until: Int64?
    public var predicates: [String]
    public var chatOnly: Bool
    /// Full-text filter (`list --text`, `search`).
    public var text: String?

    public init(limit: Int? = 10, beforeID: Int64? = nil, since: Int64? = nil, until: Int64? = nil,
                predicates: [String] = [], chatOnly: Bool = false, text: String? = nil) {
        self.limit = limit; self.beforeID = beforeID; self.since = since; self.until = until
        self.predicates = predicates; self.chatOnly = chatOnly; self.text = text
    }

    /// The conditions other than predicates and text, over `exchanges`.
    var filters: PredicateSQL {
        var parts: [String] = [], params: [SQLiteValue] = []
        if let beforeID { parts.append("id < ?"); params.append(.integer(beforeID)) }
        if let since { parts.append("started_at >= ?"); params.append(.integer(since)) }
        if let until { parts.append("started_at < ?"); params.append(.integer(until)) }
        if chatOnly { parts.append("path LIKE '%/chat/completions'") }
        return parts.isEmpty ? PredicateSQL("1") : PredicateSQL(parts.joined(separator: " AND "), params)
    }
}

extension ExchangeIndex {
    /// Exchanges matching `q`, newest first. Does not catch up: call `catchUp()` first.
    public func list(_ q: ListQuery) throws -> [ExchangeSummary] {
        try summaries(ids: ids(q))
    }

    /// Ids matching `q`, newest first.
    public func ids(_ q: ListQuery) throws -> [Int64] {
        let plan: PredicatePlan
        do { plan = try PredicatePlan.compile(q.predicates) } catch { throw error }
        let limit = (q.limit ?? 0) > 0 ? q.limit : nil
        let scan = PredicateScan(db: db, plan: plan, load: { try self.loadTexts($0, plan: plan) })
        if let text = q.text, !text.isEmpty {
            let (cond, params) = FullText.condition(text)
            var extra = q.filters
            extra.text = "\(cond) AND \(extra.text)"
            extra.params = params + extra.params
            return try scan.ids(from: FullText.joinedFrom, extra: extra, order: "exchange_text.rowid DESC", limit: limit)
        }
        return try scan.ids(extra: q.filters, limit: limit)
    }

    /// The summary of one exchange, or nil.
    public func summary(id: Int64) throws -> ExchangeSummary? {
        try db.query("SELECT \(ExchangeSummary.selectList) FROM exchanges WHERE id = ?", [.integer(id)])
            .first.map(ExchangeSummary.init(row:))
    }

    /// Summaries of `ids`, in the same order (missing ids left out), read with one statement.
    public func summaries(ids: [Int64]) throws -> [ExchangeSummary] {
        guard !ids.isEmpty else { return [] }
        let s = try db.prepare("SELECT \(ExchangeSummary.selectList) FROM exchanges WHERE id = ?")
        var out: [ExchangeSummary] = []
        out.reserveCapacity(ids.count)
        for id in ids {
            try s.bind([.integer(id)])
            if try s.step() { out.append(ExchangeSummary(row: (0..<s.columnCount).map { s.value(at: $0) })) }
            s.reset()
        }
        return out
    }

    /// Finds the exchange selected by `inspect`'s flags (all given ones must match). Nil when none does.
    public func find(id: Int64?, chatcmpl: String?, requestID: String?) throws -> Int64? {
        var parts: [String] = [], params: [SQLiteValue] = []
        if let id { parts.append("id = ?"); params.append(.integer(id)) }
        // The `exchange_keys` lookup is implied by the equality and finds the candidates without a scan.
        if let chatcmpl {
            parts.append(IndexSchema.keyLookupSQL("chatcmpl") + " AND chatcmpl = ?"); params += [.text(chatcmpl), .text(chatcmpl)]
        }
        if let requestID {
            parts.append(IndexSchema.keyLookupSQL("request_id") + " AND request_id = ?"); params += [.text(requestID), .text(requestID)]
        }
        guard !parts.isEmpty else { throw IndexError.invalidArgument("give --id, --chatcmpl or --requestid") }
        return try db.scalar("SELECT id FROM exchanges WHERE \(parts.joined(separator: " AND ")) ORDER BY id DESC LIMIT 1",
                             params)?.int64
    }

    /// The exchange's records from the log (bodies, headers, timings).
    public func exchange(id: Int64) throws -> LoadedExchange? { try load(id: id) }
}
