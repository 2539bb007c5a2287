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
///   index either has the exact value (scalar columns; JSON skeleton values that were not truncated) or the
///   comparison is replaced by "maybe" (TRUE) for the rows where it does not. The grammar has no NOT over groups,
///   so AND/OR of supersets is a superset.
/// - `uncertain` (nil when never needed) is true exactly for the rows where some comparison was a "maybe"; on the
///   other rows `indexWhere` equals the exact predicate. Only uncertain rows go to the residual check.
/// - `residualWhere` is the same predicate, with the same SQL operators and bound values, evaluated over the
///   residual table: one row holding the decoded record's full bodies and headers. So pushdown and full scan agree
///   by construction (same SQLite semantics for LIKE, affinity, json_extract, regexp).
public struct PredicatePlan: Sendable {
    public let sources: [String]
    public let nodes: [PredicateNode]
    public let indexWhere: PredicateSQL
    public let uncertain: PredicateSQL?
    public let residualWhere: PredicateSQL

    /// Parses and plans `sources` (empty → matches everything).
    public static func compile(_ sources: [String]) throws(PredicateError) -> PredicatePlan {
        var nodes: [PredicateNode] = []
        for s in sources { nodes.append(try PredicateParser.parse(s)) }
        for (n, s) in zip(nodes, sources) { try validate(n, source: s) }
        var idx = PredicateCompiler(context: .index)
        var res = PredicateCompiler(context: .residual)
        let iw = nodes.isEmpty ? PredicateSQL("1") : idx.join(nodes.map { idx.compile($0) }, "AND")
        let rw = nodes.isEmpty ? PredicateSQL("1") : res.join(nodes.map { res.compile($0) }, "AND")
        let unc: PredicateSQL? = idx.uncertain.isEmpty ? nil : idx.join(idx.uncertain, "OR")
        return PredicatePlan(sources: sources, nodes: nodes, indexWhere: iw, uncertain: unc, residualWhere: rw)
    }

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

/// Turns AST nodes into SQL for one of the two tables. Not public: `PredicatePlan` is the API.
struct PredicateCompiler {
    enum Context { case index, residual }
    let context: Context
    /// Index context: the "maybe" conditions collected from comparisons the index cannot decide for every row.
    var uncertain: [PredicateSQL] = []

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
            return paren(Self.apply("\"\(field.column)\"", c))
        case .time:
            return paren(time(c))
        case .recordText:
            return residualOnly(field.column, c)
        case .flag(let bit):
            // The residual table has no `flags`: read it from the exchange's index row (same connection).
            let flags = context == .index ? "\"flags\"" : "(SELECT flags FROM exchanges WHERE exchanges.id = residual.id)"
            return paren(Self.apply("((coalesce(\(flags), 0) & \(bit)) != 0)", c))
        case .body(let side):
            if c.field.path.isEmpty { return residualOnly(field.column, c) }
            let path = SQLiteValue.text(PredicatePathStep.sqlitePath(c.field.path))
            let col = context == .residual ? field.column : (side == .request ? "req_json" : "resp_json")
            let inner = Self.apply("json_extract(\(col), ?)", c, lhsParams: [path])
            let exact = PredicateSQL("(json_valid(\(col)) AND \(inner.text))", inner.params)
            guard context == .index else { return exact }
            // Where the skeleton cannot decide (not built, or the value was truncated) the row is a "maybe".
            let bit = side == .request ? 1 : 2
            let maybe = PredicateSQL(
                "(json_state & \(bit) != 0 OR coalesce(instr(CAST(json_extract(\(col), ?) AS TEXT), char(57344)), 0) > 0)",
                [path])
            uncertain.append(maybe)
            return PredicateSQL("(\(exact.text) OR \(maybe.text))", exact.params + maybe.params)
        }
    }

    /// A comparison on text only the decoded record has: exact in the residual table, "maybe" in the index.
    mutating func residualOnly(_ column: String, _ c: PredicateComparison) -> PredicateSQL {
        switch context {
        case .residual: return paren(Self.apply("\"\(column)\"", c))
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
