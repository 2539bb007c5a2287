/// One token of a predicate. `column` is 1-based, in characters.
public struct PredicateToken: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case punct(Character)
        case integer        // all ASCII digits
        case boolean        // true/false in any case (spelling kept in text)
        case null           // null in any case
        case ident          // [A-Za-z_][A-Za-z0-9_]*, backticks stripped from `text`
        case string         // quoted; `text` is the content between the quotes, backslashes kept
        case end
    }
    public var kind: Kind
    public var text: String
    public var column: Int
}

/// MoonPalace's lexer (reference §11.1): one-character tokens end words, whitespace separates words, `"` `'` and
/// backtick quote (a backslash before a quote keeps it from opening or closing; backslashes are otherwise kept),
/// words are classified as INTEGER, BOOLEAN, NULL, IDENT or STRING, anything else is an error.
/// Operators are sequences of one-character tokens, so `= =` is `==`, as in the original.
public enum PredicateLexer {
    static let punctuation: Set<Character> = [";", ",", "(", ")", "[", "]", "{", "}", ".", "=", "?", "+", "-", "*",
                                             "/", ">", "<", "!", "~", "%", "@", "&", "|"]
    static let quotes: Set<Character> = ["\"", "'", "`"]

    public static func tokenize(_ source: String) throws(PredicateError) -> [PredicateToken] {
        let chars = Array(source)
        var tokens: [PredicateToken] = []
        var word = "", wordStart = 0
        var i = 0

        func flush() throws(PredicateError) {
            guard !word.isEmpty else { return }
            tokens.append(try classify(word, column: wordStart + 1, source: source))
            word = ""
        }

        while i < chars.count {
            let c = chars[i]
            if quotes.contains(c) && !(i > 0 && chars[i - 1] == "\\") {
                if word.isEmpty { wordStart = i }
                // Consume through the matching close quote that is not preceded by a backslash.
                var j = i + 1
                while j < chars.count && !(chars[j] == c && chars[j - 1] != "\\") { j += 1 }
                guard j < chars.count else {
                    throw PredicateError("unterminated \(c == "`" ? "quoted identifier" : "string") (missing closing \(c))",
                                         column: i + 1, source: source)
                }
                word += String(chars[i...j])
                i = j + 1
                continue
            }
            if c == " " || c == "\t" || c == "\r" || c == "\n" {
                try flush()
            } else if punctuation.contains(c) {
                try flush()
                tokens.append(PredicateToken(kind: .punct(c), text: String(c), column: i + 1))
            } else {
                if word.isEmpty { wordStart = i }
                word.append(c)
            }
            i += 1
        }
        try flush()
        tokens.append(PredicateToken(kind: .end, text: "", column: chars.count + 1))
        return tokens
    }

    static func classify(_ w: String, column: Int, source: String) throws(PredicateError) -> PredicateToken {
        if w.allSatisfy({ $0.isASCII && $0.isNumber }) { return .init(kind: .integer, text: w, column: column) }
        let lower = w.lowercased()
        if lower == "true" || lower == "false" { return .init(kind: .boolean, text: w, column: column) }
        if lower == "null" { return .init(kind: .null, text: w, column: column) }
        if isIdentifier(w) { return .init(kind: .ident, text: w, column: column) }
        if w.count >= 2, w.first == "`", w.last == "`", isIdentifier(String(w.dropFirst().dropLast())) {
            return .init(kind: .ident, text: String(w.dropFirst().dropLast()), column: column)
        }
        if w.count >= 2, let q = w.first, q == "\"" || q == "'", w.last == q {
            let inner = String(w.dropFirst().dropLast())
            // A quote of the same kind inside means two adjacent strings glued together ('a''b'): not a string.
            if !inner.contains(where: { $0 == q }) || inner.isEmpty || isEscapedOnly(inner, quote: q) {
                return .init(kind: .string, text: inner, column: column)
            }
        }
        throw PredicateError("unexpected \"\(w)\"", column: column, source: source)
    }

    static func isIdentifier(_ w: String) -> Bool {
        guard let f = w.unicodeScalars.first, f.isASCIIIdentStart else { return false }
        return w.unicodeScalars.allSatisfy { $0.isASCIIIdentStart || ("0"..."9").contains($0) }
    }

    /// Every same-kind quote inside is backslash-escaped (`'it\'s'`).
    static func isEscapedOnly(_ inner: String, quote: Character) -> Bool {
        let a = Array(inner)
        for (k, ch) in a.enumerated() where ch == quote { if k == 0 || a[k - 1] != "\\" { return false } }
        return true
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIIIdentStart: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) || self == "_" }
}
