/// The texts of one exchange that only the log has, as a predicate sees them: the request body, the response
/// body (a stream's merged completion as JSON), and the header blocks (`Name: value\r\n` per header).
public struct RecordTexts: Sendable, Equatable {
    public var requestBody: String?
    public var responseBody: String?
    public var requestHeader: String?
    public var responseHeader: String?
    public init(requestBody: String? = nil, responseBody: String? = nil, requestHeader: String? = nil,
                responseHeader: String? = nil) {
        self.requestBody = requestBody; self.responseBody = responseBody
        self.requestHeader = requestHeader; self.responseHeader = responseHeader
    }
}

/// Decides a predicate exactly for one exchange: copies the index row's scalar columns plus the record's texts
/// into the one-row temp table `residual` and evaluates `PredicatePlan.residualWhere` there, so the same SQLite
/// operators and bound values decide as in the pushdown.
///
/// Invariant: uses (and must be used on) the connection it was made with; leaves `residual` empty.
final class ResidualCheck {
    let db: SQLiteConnection
    static let sharedList = IndexSchema.sharedColumns.map { "\"\($0.0)\"" }.joined(separator: ", ")

    init(db: SQLiteConnection) throws {
        self.db = db
        try db.execute(IndexSchema.residualTableSQL)
    }

    func matches(id: Int64, texts: RecordTexts, plan: PredicatePlan) throws -> Bool {
        try db.run("DELETE FROM residual")
        try db.run("""
            INSERT INTO residual (\(Self.sharedList), request_body, response_body, request_header, response_header)
            SELECT \(Self.sharedList), ?, ?, ?, ? FROM exchanges WHERE id = ?
            """, [text(texts.requestBody), text(texts.responseBody), text(texts.requestHeader),
                  text(texts.responseHeader), .integer(id)])
        defer { try? db.run("DELETE FROM residual") }
        let stmt = try db.prepare("SELECT 1 FROM residual WHERE \(plan.residualWhere.text)")
        try stmt.bind(plan.residualWhere.params)
        defer { stmt.reset() }
        return try stmt.step()
    }

    private func text(_ s: String?) -> SQLiteValue { s.map(SQLiteValue.text) ?? .null }
}

/// Walks candidate rows in order and keeps the ones a plan matches, decoding records only for uncertain rows.
struct PredicateScan {
    let db: SQLiteConnection
    let plan: PredicatePlan
    let residual: ResidualCheck
    /// Loads the texts of an exchange from the log (called only for rows the index cannot decide); nil = the
    /// record is gone (then the row does not match).
    let load: (Int64) throws -> RecordTexts?

    /// Ids matching `plan` and `extra` (an additional SQL condition over `exchanges` with its own parameters),
    /// in `order`, at most `limit` (nil = all).
    func ids(from: String = "exchanges", extra: PredicateSQL = PredicateSQL("1"), order: String = "id DESC",
             limit: Int?) throws -> [Int64] {
        let unc = plan.uncertain ?? PredicateSQL("0")
        let sql = "SELECT id, \(unc.text) FROM \(from) WHERE \(extra.text) AND \(plan.indexWhere.text) ORDER BY \(order)"
        let stmt = try db.prepareUncached(sql)
        try stmt.bind(unc.params + extra.params + plan.indexWhere.params)
        defer { stmt.reset() }
        var out: [Int64] = []
        while try stmt.step() {
            if let limit, out.count >= limit { break }
            let id = stmt.int64(at: 0) ?? 0
            if (stmt.int64(at: 1) ?? 0) == 0 {
                out.append(id)
            } else if let texts = try load(id), try residual.matches(id: id, texts: texts, plan: plan) {
                out.append(id)
            }
        }
        return out
    }
}
