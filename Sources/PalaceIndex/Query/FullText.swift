/// Full-text search over prompts and answers (FTS5, trigram tokenizer: substrings in any script, Chinese
/// included, ASCII case-insensitive).
///
/// Queries of three or more characters use the trigram index; shorter ones (a two-character Chinese word) fall
/// back to a LIKE scan of the text table, which is exact but not indexed. The text is always a bound value,
/// quoted as one FTS phrase, so FTS syntax characters in it are literal.
public enum FullText {
    static let joinedFrom = "exchange_text JOIN exchanges ON exchanges.id = exchange_text.rowid"

    /// The condition over `exchange_text` and its parameters.
    static func condition(_ text: String) -> (String, [SQLiteValue]) {
        if text.count >= 3 {
            return ("exchange_text MATCH ?", [.text(phrase(text))])
        }
        let like = "%" + escapeLike(text) + "%"
        return ("(exchange_text.prompt LIKE ? ESCAPE '\\' OR exchange_text.answer LIKE ? ESCAPE '\\')",
                [.text(like), .text(like)])
    }

    static func phrase(_ text: String) -> String { "\"" + text.replacing("\"", with: "\"\"") + "\"" }

    static func escapeLike(_ s: String) -> String {
        var out = ""
        for c in s {
            if c == "%" || c == "_" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}

/// One `search` hit: the exchange and a snippet of the text around the match (the match in [brackets]).
public struct SearchHit: Sendable, Equatable {
    public var summary: ExchangeSummary
    public var snippet: String
}

extension ExchangeIndex {
    /// Exchanges whose prompt or answer contains `text`, newest first, with a snippet each.
    public func search(_ text: String, query: ListQuery) throws -> [SearchHit] {
        var q = query
        q.text = text
        return try ids(q).compactMap { id in
            guard let s = try summary(id: id) else { return nil }
            return SearchHit(summary: s, snippet: try snippet(id: id, text: text))
        }
    }

    /// ~100 characters around the first match, the match in [brackets]. (FTS5's own snippet() cuts trigram
    /// matches short in SQLite 3.40, so the window is cut here from highlight().)
    func snippet(id: Int64, text: String) throws -> String {
        let row: [SQLiteValue]?
        if text.count >= 3 {
            row = try db.query("""
                SELECT highlight(exchange_text, 0, char(1), char(2)), highlight(exchange_text, 1, char(1), char(2))
                FROM exchange_text WHERE exchange_text MATCH ? AND rowid = ?
                """, [.text(FullText.phrase(text)), .integer(id)]).first
        } else {
            row = try db.query("SELECT prompt, answer FROM exchange_text WHERE rowid = ?", [.integer(id)]).first
                .map { cols in cols.map { v in .text(Self.mark(v.string ?? "", text)) } }
        }
        for col in row ?? [] {
            guard let s = col.string, let open = s.firstIndex(of: "\u{1}") else { continue }
            let close = s[open...].firstIndex(of: "\u{2}") ?? s.endIndex
            let before = s[..<open].suffix(40), after = s[s.index(after: min(close, s.index(before: s.endIndex)))...].prefix(60)
            var out = (before.count == 40 ? "…" : "") + before + "[" + s[s.index(after: open)..<close] + "]" + after
            if after.count == 60 { out += "…" }
            return Self.oneLine(out.filter { $0 != "\u{1}" && $0 != "\u{2}" })
        }
        return ""
    }

    /// Marks the first ASCII-case-insensitive occurrence of `text` in `s` with \u{1} … \u{2}.
    static func mark(_ s: String, _ text: String) -> String {
        let hay = Array(s), needle = Array(text.lowercased())
        guard !needle.isEmpty, hay.count >= needle.count else { return s }
        for i in 0...(hay.count - needle.count) where String(hay[i..<(i + needle.count)]).lowercased() == String(needle) {
            return String(hay[..<i]) + "\u{1}" + String(hay[i..<(i + needle.count)]) + "\u{2}" + String(hay[(i + needle.count)...])
        }
        return s
    }

    static func oneLine(_ s: String) -> String {
        String(s.map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : $0 })
    }
}
