/// Recursive-descent parser for MoonPalace's predicate grammar (reference §11.2):
/// ```
/// predicate := and { "||" and }        and := expr { "&&" expr }
/// expr      := "(" predicate ")" | field cmp literal | field ("=="|"!=") NULL
///            | field ("~"|"!~"|"%"|"!%") STRING | field ("@"|"!@") "[" literal { "," literal } "]"
/// field     := IDENT { "." ( IDENT | ["-"] INTEGER ) }      literal := STRING | BOOLEAN | ["-"] INTEGER ["." INTEGER]
/// ```
/// Errors name what was expected and point at the column.
public struct PredicateParser {
    let tokens: [PredicateToken]
    let source: String
    var pos = 0

    public static func parse(_ source: String) throws(PredicateError) -> PredicateNode {
        var p = PredicateParser(tokens: try PredicateLexer.tokenize(source), source: source)
        if case .end = p.peek.kind { throw p.fail("empty predicate", at: p.peek) }
        let node = try p.parseOr()
        if case .end = p.peek.kind { return node }
        if case .punct(let c) = p.peek.kind, c == ")" { throw p.fail("unbalanced ')'", at: p.peek) }
        throw p.fail("expected '&&', '||' or the end after a comparison, found \(p.describe(p.peek))", at: p.peek)
    }

    var peek: PredicateToken { tokens[pos] }
    func peek(_ k: Int) -> PredicateToken { tokens[min(pos + k, tokens.count - 1)] }
    func isPunct(_ t: PredicateToken, _ c: Character) -> Bool { t.kind == .punct(c) }

    func fail(_ message: String, at t: PredicateToken) -> PredicateError {
        PredicateError(message, column: t.column, source: source)
    }

    func describe(_ t: PredicateToken) -> String {
        switch t.kind {
        case .end: return "the end"
        case .string: return "'\(t.text)'"
        default: return "\"\(t.text)\""
        }
    }

    mutating func advance() -> PredicateToken { defer { pos += 1 }; return tokens[pos] }

    mutating func parseOr() throws(PredicateError) -> PredicateNode {
        var terms = [try parseAnd()]
        while isPunct(peek, "|") {
            let bar = advance()
            guard isPunct(peek, "|") else { throw fail("expected '||' (a single '|' is not an operator)", at: bar) }
            _ = advance()
            terms.append(try parseAnd())
        }
        return terms.count == 1 ? terms[0] : .or(terms)
    }

    mutating func parseAnd() throws(PredicateError) -> PredicateNode {
        var terms = [try parseExpr()]
        while isPunct(peek, "&") {
            let amp = advance()
            guard isPunct(peek, "&") else { throw fail("expected '&&' (a single '&' is not an operator)", at: amp) }
            _ = advance()
            terms.append(try parseExpr())
        }
        return terms.count == 1 ? terms[0] : .and(terms)
    }

    mutating func parseExpr() throws(PredicateError) -> PredicateNode {
        if isPunct(peek, "(") {
            let open = advance()
            let inner = try parseOr()
            guard isPunct(peek, ")") else {
                throw fail("expected ')' to close the '(' at column \(open.column), found \(describe(peek))", at: peek)
            }
            _ = advance()
            return inner
        }
        let field = try parseField()
        return .compare(try parseComparison(field))
    }

    mutating func parseField() throws(PredicateError) -> PredicateFieldRef {
        let head = peek
        guard head.kind == .ident else {
            throw fail("expected a field name, found \(describe(head))", at: head)
        }
        _ = advance()
        var path: [PredicatePathStep] = []
        while isPunct(peek, ".") {
            let dot = advance()
            let t = peek
            switch t.kind {
            case .ident:
                _ = advance(); path.append(.key(t.text))
            case .integer:
                _ = advance(); path.append(.index(try index(t.text, negative: false, at: t)))
            case .punct("-") where peek(1).kind == .integer:
                _ = advance(); let n = advance()
                path.append(.index(try index(n.text, negative: true, at: n)))
            default:
                throw fail("expected a key or an index after '.' at column \(dot.column), found \(describe(t))", at: t)
            }
        }
        return PredicateFieldRef(name: head.text, path: path, column: head.column)
    }

    func index(_ digits: String, negative: Bool, at t: PredicateToken) throws(PredicateError) -> Int {
        guard let n = Int(digits), n < 1 << 31 else { throw fail("array index \(digits) is too large", at: t) }
        return negative ? -n : n
    }

    mutating func parseComparison(_ field: PredicateFieldRef) throws(PredicateError) -> PredicateComparison {
        let first = peek
        guard case .punct(let c) = first.kind else {
            throw fail("expected an operator (== != > >= < <= ~ !~ % !% @ !@) after the field, found \(describe(first))",
                        at: first)
        }
        _ = advance()
        var op: PredicateOperator
        switch c {
        case "=":
            guard isPunct(peek, "=") else { throw fail("expected '==' (a single '=' is not an operator)", at: first) }
            _ = advance(); op = .eq
        case "!":
            let n = peek
            switch n.kind {
            case .punct("="): op = .ne
            case .punct("~"): op = .notLike
            case .punct("%"): op = .notRegexp
            case .punct("@"): op = .notInList
            default: throw fail("expected '!=', '!~', '!%' or '!@'", at: first)
            }
            _ = advance()
        case ">", "<":
            if isPunct(peek, "=") { _ = advance(); op = c == ">" ? .ge : .le } else { op = c == ">" ? .gt : .lt }
        case "~": op = .like
        case "%": op = .regexp
        case "@": op = .inList
        default:
            throw fail("expected an operator (== != > >= < <= ~ !~ % !% @ !@), found \(describe(first))", at: first)
        }
        let valueTok = peek
        var values: [PredicateLiteral] = []
        switch op {
        case .eq, .ne:
            if valueTok.kind == .null { _ = advance(); op = op == .eq ? .isNull : .isNotNull }
            else { values = [try parseLiteral(after: op)] }
        case .gt, .ge, .lt, .le:
            if valueTok.kind == .null { throw fail("NULL can only be compared with == or !=", at: valueTok) }
            values = [try parseLiteral(after: op)]
        case .like, .notLike, .regexp, .notRegexp:
            guard valueTok.kind == .string else {
                throw fail("expected a quoted string pattern after '\(op.rawValue)', found \(describe(valueTok))", at: valueTok)
            }
            _ = advance(); values = [.string(valueTok.text)]
        case .inList, .notInList:
            guard isPunct(valueTok, "[") else {
                throw fail("expected '[' to start the list after '\(op.rawValue)', found \(describe(valueTok))", at: valueTok)
            }
            _ = advance()
            while true {
                if peek.kind == .null { throw fail("NULL is not allowed in a list", at: peek) }
                values.append(try parseLiteral(after: op))
                if isPunct(peek, ",") { _ = advance(); continue }
                if isPunct(peek, "]") { _ = advance(); break }
                throw fail("expected ',' or ']' in the list, found \(describe(peek))", at: peek)
            }
        case .isNull, .isNotNull: break
        }
        return PredicateComparison(field: field, op: op, values: values, opColumn: first.column, valueColumn: valueTok.column)
    }

    mutating func parseLiteral(after op: PredicateOperator) throws(PredicateError) -> PredicateLiteral {
        let t = peek
        switch t.kind {
        case .string: _ = advance(); return .string(t.text)
        case .boolean: _ = advance(); return .bool(t.text.lowercased() == "true")
        case .integer: _ = advance(); return .number(try fraction(t.text))
        case .punct("-") where peek(1).kind == .integer:
            _ = advance(); let n = advance()
            return .number("-" + (try fraction(n.text)))
        default:
            throw fail("expected a value (string, number or boolean) after '\(op.rawValue)', found \(describe(t))", at: t)
        }
    }

    /// An INTEGER just read, extended by ". INTEGER" when a fraction follows.
    mutating func fraction(_ whole: String) throws(PredicateError) -> String {
        guard isPunct(peek, ".") else { return whole }
        let dot = advance()
        guard peek.kind == .integer else { throw fail("expected digits after the decimal point", at: dot) }
        return whole + "." + advance().text
    }
}
