/// SQL text with its bound values. The text only ever contains names and operators chosen by the planner;
/// every value that came from the user (literals, patterns, JSON paths) is a `?` parameter.
public struct PredicateSQL: Sendable, Equatable {
    public var text: String
    public var params: [SQLiteValue]
    public init(_ text: String, _ params: [SQLiteValue] = []) { self.text = text; self.params = params }
}

/// A compiled predicate (one or more `-p` expressions, ANDed): SQL pushdown plus an exact residual check.
///
/// Invariants:
/// - `indexWhere` over the index table selects a *superset* of the matching exchanges: for each comparison the
///   index either has the exact value (scalar columns; "the body is not JSON" for body paths) or the comparison
///   is replaced by "maybe" (TRUE) for the rows where it does not. The grammar has no NOT over groups, so AND/OR
///   of supersets is a superset.
/// - `uncertain` (nil when never needed) is true exactly for the rows where some comparison was a "maybe"; on the
///   other rows `indexWhere` equals the exact predicate. Only uncertain rows go to the residual check.
/// - `residualWhere` is the same predicate, with the same SQL operators and bound values, evaluated over the
///   residual table: one row holding the decoded record's full bodies and headers (the reference semantics).
/// - `checkWhere` is the same predicate over the `exchanges` row, with every text only the log has bound as a named
///   parameter (`:sN`, described by `checkSlots[N]`): a body path `json_valid(body) AND json_extract(body, path) op v`
///   becomes `:valid AND json_extract(:value, '$') op v`, where `:value` is the JSON text of the value at the path
///   (found by `JSONBytes`, which follows paths exactly as SQLite does) — `json_extract(<that value>, '$')` is what
///   `json_extract(body, path)` returns. So the fast check agrees with the reference without handing SQLite
///   whole bodies to parse.
public struct PredicatePlan: Sendable {
    public let sources: [String]
    public let nodes: [PredicateNode]
    public let indexWhere: PredicateSQL
    public let uncertain: PredicateSQL?
    public let residualWhere: PredicateSQL
    let checkWhere: PredicateSQL
    let checkSlots: [PredicateSlot]

    /// Parses and plans `sources` (empty → matches everything).
    public static func compile(_ sources: [String]) throws(PredicateError) -> PredicatePlan {
        var nodes: [PredicateNode] = []
        for s in sources { nodes.append(try PredicateParser.parse(s)) }
        for (n, s) in zip(nodes, sources) { try validate(n, source: s) }
        var idx = PredicateCompiler(context: .index)
        var res = PredicateCompiler(context: .residual)
        var chk = PredicateCompiler(context: .check)
        let iw = nodes.isEmpty ? PredicateSQL("1") : idx.join(nodes.map { idx.compile($0) }, "AND")
        let rw = nodes.isEmpty ? PredicateSQL("1") : res.join(nodes.map { res.compile($0) }, "AND")
        let cw = nodes.isEmpty ? PredicateSQL("1") : chk.join(nodes.map { chk.compile($0) }, "AND")
        let unc: PredicateSQL? = idx.uncertain.isEmpty ? nil : idx.join(idx.uncertain, "OR")
        return PredicatePlan(sources: sources, nodes: nodes, indexWhere: iw, uncertain: unc, residualWhere: rw,
                             checkWhere: cw, checkSlots: chk.slots)
    }

    /// What the residual check needs from the log.
    var needsRequestBody: Bool { checkSlots.contains { $0.side == .request && $0.isBody } }
    var needsResponseBody: Bool { checkSlots.contains { $0.side == .response && $0.isBody } }
    var needsHeaders: Bool { checkSlots.contains { !$0.isBody } }

    /// True when some rows may need their record decoded to decide.
    public var needsResidual: Bool { uncertain != nil }

    static func validate(_ node: PredicateNode, source: String) throws(PredicateError) {
        for c in node.comparisons {
            guard let field = PredicateFields.lookup(c.field.name) else {
                let names = PredicateFields.all.map(\.name).joined(separator: ", ")
                throw PredicateError("unknown field \"\(c.field.name)\" (fields: \(names))",
                                     column: c.field.column, source: source)
            }
            if !c.field.path.isEmpty, case .body = field.kind {} else if !c.field.path.isEmpty {
                throw PredicateError("\(field.name) has no sub-fields; JSON paths work on request_body and response_body",
                                     column: c.field.column, source: source)
            }
            if field.kind == .time {
                switch c.op {
                case .eq, .ne, .gt, .ge, .lt, .le:
                    guard case .string(let s) = c.values[0], TimeExpression.parse(s) != nil else {
                        throw PredicateError("\(c.field.name) is a time: compare it with a date such as '2026-11-23', "
                                             + "'2026-11-23 10:00:00', RFC 3339 or an age like '2h'",
                                             column: c.valueColumn, source: source)
                    }
                case .isNull, .isNotNull: break
                default:
                    throw PredicateError("\(c.field.name) is a time: use == != < <= > >= with a date",
                                         column: c.opColumn, source: source)
                }
            }
            if c.op == .regexp || c.op == .notRegexp, case .string(let p) = c.values[0],
               RegexpFunction.compile(p) == nil {
                throw PredicateError("invalid regular expression '\(p)'", column: c.valueColumn, source: source)
            }
        }
    }
}

/// A value the fast residual check binds per row (see `PredicatePlan.checkWhere`).
enum PredicateSlot: Sendable, Equatable {
    /// 1 when the body is valid JSON, else 0.
    case valid(PredicateField.BodySide)
    /// The JSON text of the value at the path in the body, or NULL.
    case value(PredicateField.BodySide, [PredicatePathStep])
    /// The whole body text (a stream's merged completion for the response).
    case body(PredicateField.BodySide)
    /// The header block text.
    case header(PredicateField.BodySide)

    var side: PredicateField.BodySide {
        switch self { case .valid(let s), .value(let s, _), .body(let s), .header(let s): return s }
    }
    var isBody: Bool { if case .header = self { return false } else { return true } }
}

/// Turns AST nodes into SQL for one of the tables. Not public: `PredicatePlan` is the API.
struct PredicateCompiler {
    enum Context { case index, residual, check }
    let context: Context
    /// Index context: the "maybe" conditions collected from comparisons the index cannot decide for every row.
    var uncertain: [PredicateSQL] = []
    /// Check context: the per-row values, named `:s<index>`.
    var slots: [PredicateSlot] = []

    mutating func slot(_ s: PredicateSlot) -> String {
        if let i = slots.firstIndex(of: s) { return ":s\(i)" }
        slots.append(s)
        return ":s\(slots.count - 1)"
    }

    /// Marker that ends a string the indexer truncated in the JSON skeleton (U+E000, private use).
    static let truncationMarker = "\u{E000}"

    init(context: Context) { self.context = context }

    func join(_ parts: [PredicateSQL], _ op: String) -> PredicateSQL {
        PredicateSQL("(" + parts.map(\.text).joined(separator: " \(op) ") + ")", parts.flatMap(\.params))
    }

    mutating func compile(_ node: PredicateNode) -> PredicateSQL {
        switch node {
        case .and(let xs): return join(xs.map { compile($0) }, "AND")
        case .or(let xs): return join(xs.map { compile($0) }, "OR")
        case .compare(let c): return comparison(c)
        }
    }

    static func bind(_ lit: PredicateLiteral) -> SQLiteValue {
        switch lit {
        case .string(let s): return .text(s)
        case .bool(let b): return .integer(b ? 1 : 0)   // SQLite's TRUE/FALSE are 1/0
        case .number(let t):
            if !t.contains("."), let i = Int64(t) { return .integer(i) }
            return .real(Double(t) ?? 0)
        }
    }

    /// `lhs <op> values`, the shape MoonPalace produced, with `?` for every value.
    /// `lhsParams` are the values `lhs` itself binds; they are repeated wherever `lhs` appears.
    static func apply(_ lhs: String, _ c: PredicateComparison, lhsParams l: [SQLiteValue] = []) -> PredicateSQL {
        let vals = l + c.values.map(bind)
        switch c.op {
        case .eq: return PredicateSQL("\(lhs) = ?", vals)
        case .ne: return PredicateSQL("\(lhs) != ?", vals)
        case .gt: return PredicateSQL("\(lhs) > ?", vals)
        case .ge: return PredicateSQL("\(lhs) >= ?", vals)
        case .lt: return PredicateSQL("\(lhs) < ?", vals)
        case .le: return PredicateSQL("\(lhs) <= ?", vals)
        case .isNull: return PredicateSQL("\(lhs) IS NULL", l)
        case .isNotNull: return PredicateSQL("\(lhs) IS NOT NULL", l)
        case .like, .notLike:
            guard case .string(let p) = c.values[0] else { return PredicateSQL("0") }
            return PredicateSQL("\(lhs) \(c.op == .like ? "LIKE" : "NOT LIKE") ?", l + [.text(LikePattern.sql(p))])
        case .regexp, .notRegexp:
            return PredicateSQL("(\(lhs) IS NOT NULL AND \(lhs) \(c.op == .regexp ? "REGEXP" : "NOT REGEXP") CAST(? AS TEXT))",
                                l + l + c.values.map(bind))
        case .inList, .notInList:
            let qs = Array(repeating: "?", count: c.values.count).joined(separator: ", ")
            return PredicateSQL("\(lhs) \(c.op == .inList ? "IN" : "NOT IN") (\(qs))", vals)
        }
    }

    mutating func comparison(_ c: PredicateComparison) -> PredicateSQL {
        guard let field = PredicateFields.lookup(c.field.name) else { return PredicateSQL("0") }
        switch field.kind {
        case .column:
            let exact = paren(Self.apply("\"\(field.column)\"", c))
            if context == .index, c.op == .eq, field.column == "chatcmpl" || field.column == "request_id" {
                // Implied by the equality; finds the candidates in `exchange_keys` instead of scanning.
                let v = Self.bind(c.values[0])
                return PredicateSQL("(\(IndexSchema.keyLookupSQL(field.column)) AND \(exact.text))", [v] + exact.params)
            }
            return exact
        case .time:
            return paren(time(c))
        case .recordText:
            return residualOnly(field, c)
        case .flag(let bit):
            // The residual table has no `flags`: read it from the exchange's index row (same connection).
            let flags = context == .residual ? "(SELECT flags FROM exchanges WHERE exchanges.id = residual.id)" : "\"flags\""
            return paren(Self.apply("((coalesce(\(flags), 0) & \(bit)) != 0)", c))
        case .body(let side):
            if c.field.path.isEmpty { return residualOnly(field, c) }
            switch context {
            case .residual:
                let path = SQLiteValue.text(PredicatePathStep.sqlitePath(c.field.path))
                let inner = Self.apply("json_extract(\(field.column), ?)", c, lhsParams: [path])
                return PredicateSQL("(json_valid(\(field.column)) AND \(inner.text))", inner.params)
            case .check:
                let valid = slot(.valid(side)), value = slot(.value(side, c.field.path))
                let inner = Self.apply("json_extract(\(value), '$')", c)
                return PredicateSQL("(\(valid) AND \(inner.text))", inner.params)
            case .index:
                // Where the body is not JSON the comparison is false (as json_valid decides). Where it is, the
                // body's skeleton decides it when it keeps the path (the same json_extract over the same value
                // text); elsewhere it is a "maybe", decided from the log.
                let bits = side == .request ? 1 | 4 : 2 | 8
                let column = side == .request ? "request_skel" : "response_skel"
                let path = SQLiteValue.text(BodySkeleton.encodePath(c.field.path))
                let nullTest = c.op == .isNull || c.op == .isNotNull ? 1 : 0
                let known = "mp_skel_known(\(column), ?, \(nullTest))"
                let inner = Self.apply("json_extract(mp_skel_value(\(column), ?), '$')", c, lhsParams: [path])
                uncertain.append(PredicateSQL("(json_state & \(bits) != 0 AND NOT \(known))", [path]))
                return PredicateSQL("(json_state & \(bits) != 0 AND (NOT \(known) OR \(inner.text)))", [path] + inner.params)
            }
        }
    }

    /// A comparison on text only the decoded record has: exact in the residual table and the check, "maybe" in
    /// the index.
    mutating func residualOnly(_ field: PredicateField, _ c: PredicateComparison) -> PredicateSQL {
        switch context {
        case .residual: return paren(Self.apply("\"\(field.column)\"", c))
        case .check:
            let name: String
            switch field.kind {
            case .body(let side): name = slot(.body(side))
            default: name = slot(.header(field.column == "request_header" ? .request : .response))
            }
            return paren(Self.apply(name, c))
        case .index:
            uncertain.append(PredicateSQL("1"))
            return PredicateSQL("1")
        }
    }

    func paren(_ s: PredicateSQL) -> PredicateSQL { PredicateSQL("(" + s.text + ")", s.params) }

    /// `requested_at` against the interval its literal covers (see `TimeExpression`).
    func time(_ c: PredicateComparison) -> PredicateSQL {
        guard let lit = c.values.first, case .string(let s) = lit, let t = TimeExpression.parse(s) else {
            if c.op == .isNull { return PredicateSQL("started_at IS NULL") }
            if c.op == .isNotNull { return PredicateSQL("started_at IS NOT NULL") }
            return PredicateSQL("0")
        }
        let a = SQLiteValue.integer(t.start), b = SQLiteValue.integer(t.end)
        switch c.op {
        case .eq: return PredicateSQL("started_at >= ? AND started_at < ?", [a, b])
        case .ne: return PredicateSQL("(started_at < ? OR started_at >= ?)", [a, b])
        case .lt: return PredicateSQL("started_at < ?", [a])
        case .le: return PredicateSQL("started_at < ?", [b])
        case .gt: return PredicateSQL("started_at >= ?", [b])
        case .ge: return PredicateSQL("started_at >= ?", [a])
        default: return PredicateSQL("0")
        }
    }
}
