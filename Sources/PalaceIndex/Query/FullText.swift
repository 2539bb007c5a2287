import PalaceLog

/// Full-text search over prompts and answers: a contentless FTS5 table (the text lives in the log, not twice on
/// disk) with the `palace` tokenizer (CPalaceFTS: the tokens `unicode61` gives text laid out by `CJKSegmenter`,
/// Chinese and Japanese as overlapping two-character words, computed from the raw text), so English matches by
/// words (ASCII case-insensitive, the last word of the query as a prefix) and Chinese by any substring of one or
/// more characters. Queries are laid out here and tokenized by plain unicode61 rules.
///
/// The query is always a bound value turned into one FTS phrase (double quotes doubled), so FTS syntax
/// characters in it are literal. Snippets are cut from the text derived again from the log.
public enum FullText {
    static let joinedFrom = "exchange_text JOIN exchanges ON exchanges.id = exchange_text.rowid"

    /// The FTS5 query for `text`, or nil when it holds no searchable character.
    static func match(_ text: String) -> String? {
        let laid = CJKSegmenter.query(text)
        guard laid.unicodeScalars.contains(where: { $0.properties.isAlphabetic || $0.properties.numericType != nil }) else {
            return nil
        }
        return "\"" + laid.replacing("\"", with: "\"\"") + "\" *"
    }

    /// The condition over `exchange_text` and its parameters.
    static func condition(_ text: String) -> (String, [SQLiteValue]) {
        guard let m = match(text) else { return ("0", []) }
        return ("exchange_text MATCH ?", [.text(m)])
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
        return try summaries(ids: ids(q)).map { s in
            SearchHit(summary: s, snippet: (try? snippet(id: s.id, text: text)) ?? "")
        }
    }

    /// ~100 characters around the first match in the exchange's prompt or answer, the match in [brackets].
    func snippet(id: Int64, text: String) throws -> String {
        guard let ex = try load(id: id) else { return "" }
        var row = ExchangeRow(begin: ex.begin, position: RecordPosition(segment: 0, offset: 0))
        if let end = ex.end {
            row.requestBody = ex.requestBody
            row.deriveRequest()
            row.apply(end: end, position: RecordPosition(segment: 0, offset: 0))
        }
        for s in [row.prompt, row.answer] where !s.isEmpty {
            if let marked = Self.mark(s, text) { return Self.window(marked) }
        }
        // Matched by words rather than the exact text: mark the first word of the query.
        let first = text.split(whereSeparator: { $0.isWhitespace || $0.isPunctuation }).first.map(String.init) ?? text
        for s in [row.prompt, row.answer] where !s.isEmpty {
            if let marked = Self.mark(s, first) { return Self.window(marked) }
        }
        return Self.oneLine(String((row.prompt.isEmpty ? row.answer : row.prompt).prefix(100)))
    }

    static func window(_ s: String) -> String {
        guard let open = s.firstIndex(of: "\u{1}") else { return oneLine(String(s.prefix(100))) }
        let close = s[open...].firstIndex(of: "\u{2}") ?? s.endIndex
        let before = s[..<open].suffix(40), after = s[s.index(after: min(close, s.index(before: s.endIndex)))...].prefix(60)
        var out = (before.count == 40 ? "…" : "") + before + "[" + s[s.index(after: open)..<close] + "]" + after
        if after.count == 60 { out += "…" }
        return oneLine(out.filter { $0 != "\u{1}" && $0 != "\u{2}" })
    }

    /// Marks the first case-insensitive occurrence of `text` in `s` with \u{1} … \u{2}; nil when there is none.
    static func mark(_ s: String, _ text: String) -> String? {
        let hay = s.map { $0.lowercased() }, needle = text.map { $0.lowercased() }
        guard !needle.isEmpty, hay.count >= needle.count else { return nil }
        let chars = Array(s)
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] {
            var ok = true
            for k in 1..<needle.count where hay[i + k] != needle[k] { ok = false; break }
            guard ok else { continue }
            let n = needle.count
            return String(chars[..<i]) + "\u{1}" + String(chars[i..<(i + n)]) + "\u{2}" + String(chars[(i + n)...])
        }
        return nil
    }

    static func oneLine(_ s: String) -> String {
        String(s.map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : $0 })
    }
}
