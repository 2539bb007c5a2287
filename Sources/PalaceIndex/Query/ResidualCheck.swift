import PalaceLog

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

/// One row the index could not decide: where its records are, and what the index knows about its bodies.
struct ScanCandidate {
    var id: Int64
    var begin: RecordPosition
    var positions: [RecordPosition]
    var jsonState: Int64
    var last: RecordPosition { positions.max() ?? begin }
}

/// Decides `PredicatePlan.checkWhere` for one row at a time with one prepared statement: the row's own columns
/// from `exchanges`, the log-only texts as bound slot values.
final class FastCheck {
    let stmt: SQLiteStatement
    let plan: PredicatePlan
    /// For each parameter index (1-based): a constant, a slot number, or the row id.
    enum Param { case constant(SQLiteValue), slot(Int), id }
    let params: [Param]

    init(db: SQLiteConnection, plan: PredicatePlan) throws {
        self.plan = plan
        stmt = try db.prepareUncached("SELECT 1 FROM exchanges WHERE id = :id AND \(plan.checkWhere.text)")
        var ps: [Param] = [], k = 0
        for i in 1...max(1, Int(stmt.parameterCount)) where i <= Int(stmt.parameterCount) {
            switch stmt.parameterName(Int32(i)) {
            case ":id"?: ps.append(.id)
            case let name? where name.hasPrefix(":s"): ps.append(.slot(Int(name.dropFirst(2)) ?? 0))
            default:
                ps.append(.constant(k < plan.checkWhere.params.count ? plan.checkWhere.params[k] : .null))
                k += 1
            }
        }
        params = ps
    }

    func matches(_ c: ScanCandidate, texts: RecordTexts) throws -> Bool {
        var req: [UInt8]?, resp: [UInt8]?
        var values: [SQLiteValue] = []
        values.reserveCapacity(plan.checkSlots.count)
        func body(_ side: PredicateField.BodySide) -> [UInt8]? {
            if side == .request {
                if req == nil, let t = texts.requestBody { req = Array(t.utf8) }
                return req
            }
            if resp == nil, let t = texts.responseBody { resp = Array(t.utf8) }
            return resp
        }
        for slot in plan.checkSlots {
            switch slot {
            case .valid(let side):
                let known: Int64 = side == .request ? 1 : 2, unknown: Int64 = side == .request ? 4 : 8
                if c.jsonState & unknown == 0 {
                    values.append(.integer(c.jsonState & known != 0 ? 1 : 0))
                } else {
                    values.append(.integer(body(side).map { JSONBytes.isValid($0) } == true ? 1 : 0))
                }
            case .value(let side, let path):
                guard let b = body(side) else { values.append(.null); continue }
                let v: SQLiteValue = b.withUnsafeBufferPointer { p in
                    guard let r = JSONBytes.find(p, path: path) else { return .null }
                    return .text(String(decoding: UnsafeBufferPointer(rebasing: p[r]), as: UTF8.self))
                }
                values.append(v)
            case .body(let side):
                let t = side == .request ? texts.requestBody : texts.responseBody
                values.append(t.map(SQLiteValue.text) ?? .null)
            case .header(let side):
                let t = side == .request ? texts.requestHeader : texts.responseHeader
                values.append(t.map(SQLiteValue.text) ?? .null)
            }
        }
        try stmt.bind(params.map {
            switch $0 {
            case .constant(let v): return v
            case .slot(let n): return n < values.count ? values[n] : .null
            case .id: return .integer(c.id)
            }
        })
        defer { stmt.reset() }
        return try stmt.step()
    }
}

/// Walks candidate rows in order and keeps the ones a plan matches, decoding records only for uncertain rows,
/// in batches (so a long run of uncertain rows is read from the log sequentially, not record by record).
struct PredicateScan {
    let db: SQLiteConnection
    let plan: PredicatePlan
    /// Loads the texts of a batch of exchanges from the log (only rows the index cannot decide). A missing entry
    /// means the record is gone (then the row does not match).
    let load: ([ScanCandidate]) throws -> [Int64: RecordTexts]

    /// Ids matching `plan` and `extra` (an additional SQL condition over `exchanges` with its own parameters),
    /// in `order`, at most `limit` (nil = all).
    func ids(from: String = "exchanges", extra: PredicateSQL = PredicateSQL("1"), order: String = "id DESC",
             limit: Int?) throws -> [Int64] {
        let unc = plan.uncertain ?? PredicateSQL("0")
        let sql = """
            SELECT exchanges.id, \(unc.text), begin_segment, begin_offset, positions, json_state FROM \(from)
            WHERE \(extra.text) AND \(plan.indexWhere.text) ORDER BY \(order)
            """
        let stmt = try db.prepareUncached(sql)
        try stmt.bind(unc.params + extra.params + plan.indexWhere.params)
        defer { stmt.reset() }
        var out: [Int64] = []
        var check: FastCheck?
        // Rows in order; uncertain ones wait (with the certain ones after them) until a batch is full.
        var pending: [(id: Int64, candidate: ScanCandidate?)] = []
        var uncertainCount = 0, batch = 32
        func flush() throws {
            let cands = pending.compactMap(\.candidate)
            var verdict: [Int64: Bool] = [:]
            if !cands.isEmpty {
                if check == nil { check = try FastCheck(db: db, plan: plan) }
                let texts = try load(cands)
                for c in cands {
                    if let t = texts[c.id] { verdict[c.id] = try check!.matches(c, texts: t) } else { verdict[c.id] = false }
                }
            }
            for p in pending {
                if let limit, out.count >= limit { break }
                if p.candidate == nil || verdict[p.id] == true { out.append(p.id) }
            }
            pending.removeAll(keepingCapacity: true)
            uncertainCount = 0
            batch = min(batch * 4, 8192)
        }
        while try stmt.step() {
            if let limit, out.count >= limit { break }
            let id = stmt.int64(at: 0) ?? 0
            if (stmt.int64(at: 1) ?? 0) == 0 {
                if pending.isEmpty { out.append(id) } else { pending.append((id, nil)) }
                continue
            }
            let begin = RecordPosition(segment: UInt64(bitPattern: stmt.int64(at: 2) ?? 0),
                                       offset: UInt64(bitPattern: stmt.int64(at: 3) ?? 0))
            var positions: [RecordPosition] = []
            if case .blob(let b) = stmt.value(at: 4) { positions = PositionList.decode(b, begin: begin) }
            pending.append((id, ScanCandidate(id: id, begin: begin, positions: positions, jsonState: stmt.int64(at: 5) ?? 0)))
            uncertainCount += 1
            if uncertainCount >= batch { try flush() }
        }
        if !pending.isEmpty { try flush() }
        if let limit, out.count > limit { out.removeLast(out.count - limit) }
        return out
    }
}
