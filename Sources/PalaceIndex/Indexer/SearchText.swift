/// The text full-text search sees: what this request added to the conversation (the messages after the last
/// assistant message, system messages left out: they repeat with every conversation and are configuration, not
/// what was asked — or `prompt`/`input`) and what was answered
/// (message content, reasoning and tool-call arguments of each choice, or `text`). Earlier turns are not indexed
/// again: they were indexed with the exchange that added them, so a chat of n turns costs O(n), not O(n²).
/// Each side is capped at `maxBytes` UTF-8 bytes (its start and end kept): FTS5 indexing costs ~30 ns per byte,
/// so this cap is what keeps a million-exchange rebuild within a minute (and the FTS table near 0.5 KB/exchange).
///
/// Works on bytes throughout (the indexer runs it for every exchange, in the proxy's tailer too): labels are
/// compared as raw bytes, only the strings that end up in the text are decoded (straight into one UTF-8 buffer),
/// and no `String` is made.
public enum SearchText {
    public static let maxBytes = 640

    /// Prompt text of a request body (empty when the body is not JSON).
    public static func prompt(of body: [UInt8]) -> String {
        String(decoding: body.withUnsafeBufferPointer { promptBytes(of: $0) }, as: UTF8.self)
    }

    /// Answer text of a response body (a completion; for streams the merged completion).
    public static func answer(of body: [UInt8]) -> String {
        String(decoding: body.withUnsafeBufferPointer { answerBytes(of: $0) }, as: UTF8.self)
    }

    /// The prompt as UTF-8 (capped; invalid UTF-8 in the body is passed through and repaired by the reader).
    static func promptBytes(of b: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var first = true
        var root = 0
        JSONBytes.skipSpace(b, &root)
        JSONBytes.forEachMember(b, objectAt: root) { label, value in
            if equals(b, label, "messages") {
                // Content value starts of the non-system messages after the last assistant message; decoded only
                // once the whole array is seen (the history before it is skipped, never decoded).
                var turn: [Int] = []
                JSONBytes.forEachElement(b, arrayAt: value) { m in
                    var role: Range<Int>?, content: Int?
                    JSONBytes.forEachMember(b, objectAt: m) { l, v in
                        if equals(b, l, "role") {
                            var e = v
                            role = v < b.count && b[v] == UInt8(ascii: "\"") && JSONBytes.skipString(b, &e) ? (v + 1)..<(e - 1) : nil
                        } else if equals(b, l, "content") {
                            content = v
                        }
                        return true
                    }
                    if let role, equals(b, role, "assistant") {
                        turn.removeAll(keepingCapacity: true)
                    } else if !(role.map { equals(b, $0, "system") } ?? false), let content {
                        turn.append(content)
                    }
                    return true
                }
                for c in turn { appendTexts(b, c, into: &out, first: &first) }
            } else if equals(b, label, "prompt") || equals(b, label, "input") {
                appendTexts(b, value, into: &out, first: &first)
            }
            return true
        }
        cap(&out)
        return out
    }

    static func answerBytes(of b: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var first = true
        var root = 0
        JSONBytes.skipSpace(b, &root)
        guard let choices = JSONBytes.member(b, objectAt: root, key: "choices") else { return [] }
        JSONBytes.forEachElement(b, arrayAt: choices) { choice in
            JSONBytes.forEachMember(b, objectAt: choice) { l, v in
                if equals(b, l, "message") || equals(b, l, "delta") {
                    // Reasoning, then content, then tool-call arguments, whatever order the members come in.
                    var reasoning: Int?, content: Int?, calls: Int?
                    JSONBytes.forEachMember(b, objectAt: v) { ml, mv in
                        if equals(b, ml, "reasoning_content") { reasoning = mv }
                        else if equals(b, ml, "content") { content = mv }
                        else if equals(b, ml, "tool_calls") { calls = mv }
                        return true
                    }
                    if let reasoning { appendTexts(b, reasoning, into: &out, first: &first) }
                    if let content { appendTexts(b, content, into: &out, first: &first) }
                    if let calls {
                        JSONBytes.forEachElement(b, arrayAt: calls) { call in
                            if let f = JSONBytes.member(b, objectAt: call, key: "function"),
                               let a = JSONBytes.member(b, objectAt: f, key: "arguments") {
                                appendTexts(b, a, into: &out, first: &first)
                            }
                            return true
                        }
                    }
                } else if equals(b, l, "text") {
                    if v < b.count, b[v] == UInt8(ascii: "\"") {
                        if !first { out.append(0x0A) }
                        first = false
                        JSONBytes.appendString(b, at: v, into: &out)
                    }
                }
                return true
            }
            return true
        }
        cap(&out)
        return out
    }

    /// Whether the raw bytes `b[r]` are `word` (labels as written, escapes not decoded).
    @inline(__always) static func equals(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard r.count == n else { return false }
        let w = word.utf8Start
        for k in 0..<n where b[r.lowerBound + k] != w[k] { return false }
        return true
    }

    /// Appends a string, or the `text` of each part of an array of content parts, each after a newline unless it
    /// is the first part of the text.
    static func appendTexts(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, into out: inout [UInt8], first: inout Bool) {
        if i < b.count, b[i] == UInt8(ascii: "\"") {
            if !first { out.append(0x0A) }
            first = false
            JSONBytes.appendString(b, at: i, into: &out)
            return
        }
        JSONBytes.forEachElement(b, arrayAt: i) { part in
            var s: Int? = part
            if !(part < b.count && b[part] == UInt8(ascii: "\"")) {
                s = JSONBytes.member(b, objectAt: part, key: "text").flatMap { t in
                    t < b.count && b[t] == UInt8(ascii: "\"") ? t : nil
                }
            }
            if let s {
                if !first { out.append(0x0A) }
                first = false
                JSONBytes.appendString(b, at: s, into: &out)
            }
            return true
        }
    }

    /// Keeps the first and last `maxBytes / 2` bytes (cut at character boundaries) with "\n…\n" between.
    static func cap(_ u: inout [UInt8]) {
        guard u.count > maxBytes else { return }
        let half = maxBytes / 2
        var a = half, z = u.count - half
        while a > 0 && u[a] & 0xC0 == 0x80 { a -= 1 }
        while z < u.count && u[z] & 0xC0 == 0x80 { z += 1 }
        var out: [UInt8] = []
        out.reserveCapacity(a + 5 + u.count - z)
        out.append(contentsOf: u[..<a])
        out.append(contentsOf: [0x0A, 0xE2, 0x80, 0xA6, 0x0A])
        out.append(contentsOf: u[z...])
        u = out
    }

    /// String form of `cap` (kept for callers holding text).
    static func cap(_ s: String) -> String {
        var u = Array(s.utf8)
        cap(&u)
        return String(decoding: u, as: UTF8.self)
    }
}

/// How text is laid out for the FTS5 `unicode61` tokenizer so that Chinese and Japanese are searchable: every
/// run of CJK characters becomes its overlapping two-character words plus its last character alone
/// ("月之暗面" → "月之 之暗 暗面 面"); other text is left to the tokenizer (words, ASCII case folded).
///
/// A query is laid out the same way except that a CJK run at the very end of the query has no trailing single
/// character (the document's run may go on), and the query's last token is a prefix match, so "月" finds "月之"
/// and "link" finds "linked" — close to the substring search users expect, at a fraction of a trigram index's
/// size.
public enum CJKSegmenter {
    @inline(__always) static func isCJK(_ u: UInt32) -> Bool {
        (0x3040...0x30FF).contains(u) || (0x3400...0x4DBF).contains(u) || (0x4E00...0x9FFF).contains(u)
            || (0xF900...0xFAFF).contains(u) || (0x20000...0x2FFFF).contains(u)
    }

    /// Document layout.
    public static func document(_ s: String) -> String { layout(s, query: false).text }

    /// Query layout, and whether it holds any token at all.
    static func query(_ s: String) -> String { layout(s, query: true).text }

    static func layout(_ s: String, query: Bool) -> (text: String, cjk: Bool) {
        var s = s
        return s.withUTF8 { u -> (String, Bool) in
            var out: [UInt8] = []
            let cjk = layout(u, query: query, into: &out)
            return (String(decoding: out, as: UTF8.self), cjk)
        }
    }

    /// The document for `prompt` and `answer` (joined by a newline when both are there), as UTF-8.
    static func document(prompt: [UInt8], answer: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(prompt.count + answer.count + (prompt.count + answer.count) / 2 + 1)
        prompt.withUnsafeBufferPointer { _ = layout($0, query: false, into: &out) }
        if !prompt.isEmpty && !answer.isEmpty { out.append(0x0A) }
        answer.withUnsafeBufferPointer { _ = layout($0, query: false, into: &out) }
        return out
    }

    /// Appends the layout of the UTF-8 bytes `u` to `out`; whether they held a CJK character. ASCII runs are
    /// copied eight bytes at a time; a malformed UTF-8 sequence becomes U+FFFD (as `String(decoding:)` would).
    @discardableResult
    static func layout(_ u: UnsafeBufferPointer<UInt8>, query: Bool, into out: inout [UInt8]) -> Bool {
        guard let base = u.baseAddress else { return false }
        let n = u.count
        var runStart = -1, runCount = 0   // byte offset and character count of the current CJK run
        var runEnd = 0
        var sawCJK = false
        @inline(__always) func charLength(_ c: UInt8) -> Int { c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2 }
        func flush(atEnd: Bool) {
            guard runCount > 0 else { return }
            out.append(0x20)
            if runCount == 1 {
                out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: runEnd - runStart))
            } else {
                var a = runStart
                for _ in 0..<(runCount - 1) {
                    let la = charLength(base[a]), lb = charLength(base[a + la])
                    out.append(contentsOf: UnsafeBufferPointer(start: base + a, count: la + lb))
                    out.append(0x20)
                    a += la
                }
                if !(query && atEnd) {
                    out.append(contentsOf: UnsafeBufferPointer(start: base + a, count: charLength(base[a])))
                }
            }
            out.append(0x20)
            runCount = 0
        }
        var i = 0
        while i < n {
            let c = base[i]
            if c < 0x80 {
                flush(atEnd: false)
                var j = i + 1
                while j + 8 <= n && UnsafeRawPointer(base + j).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { j += 8 }
                while j < n && base[j] < 0x80 { j += 1 }
                out.append(contentsOf: UnsafeBufferPointer(start: base + i, count: j - i))
                i = j
                continue
            }
            // A well-formed sequence (no overlongs, no surrogates, ≤ U+10FFFF), or U+FFFD for one byte.
            var len = 0
            var scalar: UInt32 = 0
            if c >= 0xC2 && c <= 0xDF { len = 2; scalar = UInt32(c & 0x1F) }
            else if c >= 0xE0 && c <= 0xEF { len = 3; scalar = UInt32(c & 0x0F) }
            else if c >= 0xF0 && c <= 0xF4 { len = 4; scalar = UInt32(c & 0x07) }
            if len > 0 && i + len <= n {
                for k in 1..<len {
                    let d = base[i + k]
                    if d & 0xC0 != 0x80 { len = 0; break }
                    scalar = scalar << 6 | UInt32(d & 0x3F)
                }
                if len == 3 && (scalar < 0x800 || (0xD800...0xDFFF).contains(scalar)) { len = 0 }
                if len == 4 && (scalar < 0x10000 || scalar > 0x10FFFF) { len = 0 }
            } else {
                len = 0
            }
            if len == 0 {
                flush(atEnd: false)
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                i += 1
                continue
            }
            if len >= 3 && isCJK(scalar) {
                if runCount == 0 { runStart = i }
                runCount += 1
                runEnd = i + len
                sawCJK = true
            } else {
                flush(atEnd: false)
                out.append(contentsOf: UnsafeBufferPointer(start: base + i, count: len))
            }
            i += len
        }
        flush(atEnd: true)
        return sawCJK
    }
}
