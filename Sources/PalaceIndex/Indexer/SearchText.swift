/// The text full-text search sees: what this request added to the conversation (the messages after the last
/// assistant message, system messages left out: they repeat with every conversation and are configuration, not
/// what was asked — or `prompt`/`input`) and what was answered
/// (message content, reasoning and tool-call arguments of each choice, or `text`). Earlier turns are not indexed
/// again: they were indexed with the exchange that added them, so a chat of n turns costs O(n), not O(n²).
/// Each side is capped at `maxBytes` UTF-8 bytes (its start and end kept): FTS5 indexing costs ~70 ns per byte,
/// so this cap is what keeps a million-exchange rebuild within a minute (and the FTS table near 0.5 KB/exchange).
public enum SearchText {
    public static let maxBytes = 640

    /// Prompt text of a request body (empty when the body is not JSON).
    public static func prompt(of body: [UInt8]) -> String {
        body.withUnsafeBufferPointer { prompt(of: $0) }
    }

    static func prompt(of b: UnsafeBufferPointer<UInt8>) -> String {
        var parts: [String] = []
        var root = 0
        JSONBytes.skipSpace(b, &root)
        JSONBytes.forEachMember(b, objectAt: root) { label, value in
            switch key(b, label) {
            case "messages":
                var turn: [String] = []
                JSONBytes.forEachElement(b, arrayAt: value) { m in
                    var role: String?, content: [String] = []
                    JSONBytes.forEachMember(b, objectAt: m) { l, v in
                        switch key(b, l) {
                        case "role": role = JSONBytes.string(b, at: v)
                        case "content": content = texts(b, v)
                        default: break
                        }
                        return true
                    }
                    if role == "assistant" { turn.removeAll() } else if role != "system" { turn += content }
                    return true
                }
                parts += turn
            case "prompt", "input":
                parts += texts(b, value)
            default: break
            }
            return true
        }
        return cap(parts.joined(separator: "\n"))
    }

    /// Answer text of a response body (a completion; for streams the merged completion).
    public static func answer(of body: [UInt8]) -> String {
        body.withUnsafeBufferPointer { answer(of: $0) }
    }

    static func answer(of b: UnsafeBufferPointer<UInt8>) -> String {
        var parts: [String] = []
        var root = 0
        JSONBytes.skipSpace(b, &root)
        guard let choices = JSONBytes.member(b, objectAt: root, key: "choices") else { return "" }
        JSONBytes.forEachElement(b, arrayAt: choices) { choice in
            JSONBytes.forEachMember(b, objectAt: choice) { l, v in
                switch key(b, l) {
                case "message", "delta":
                    var reasoning: [String] = [], content: [String] = [], args: [String] = []
                    JSONBytes.forEachMember(b, objectAt: v) { ml, mv in
                        switch key(b, ml) {
                        case "reasoning_content": reasoning = texts(b, mv)
                        case "content": content = texts(b, mv)
                        case "tool_calls":
                            JSONBytes.forEachElement(b, arrayAt: mv) { call in
                                if let f = JSONBytes.member(b, objectAt: call, key: "function"),
                                   let a = JSONBytes.member(b, objectAt: f, key: "arguments") {
                                    args += texts(b, a)
                                }
                                return true
                            }
                        default: break
                        }
                        return true
                    }
                    parts += reasoning + content + args
                case "text":
                    if let t = JSONBytes.string(b, at: v) { parts.append(t) }
                default: break
                }
                return true
            }
            return true
        }
        return cap(parts.joined(separator: "\n"))
    }

    static func key(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> String {
        r.count > 24 ? "" : String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self)
    }

    /// A string, or the `text` of each part of an array of content parts.
    static func texts(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> [String] {
        if let s = JSONBytes.string(b, at: i) { return [s] }
        var out: [String] = []
        JSONBytes.forEachElement(b, arrayAt: i) { part in
            if let s = JSONBytes.string(b, at: part) {
                out.append(s)
            } else if let t = JSONBytes.member(b, objectAt: part, key: "text"), let s = JSONBytes.string(b, at: t) {
                out.append(s)
            }
            return true
        }
        return out
    }

    static func cap(_ s: String) -> String {
        guard s.utf8.count > maxBytes else { return s }
        let half = maxBytes / 2
        let u = Array(s.utf8)
        var a = half, z = u.count - half
        while a > 0 && u[a] & 0xC0 == 0x80 { a -= 1 }
        while z < u.count && u[z] & 0xC0 == 0x80 { z += 1 }
        return String(decoding: u[..<a], as: UTF8.self) + "\n…\n" + String(decoding: u[z...], as: UTF8.self)
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
            out.reserveCapacity(u.count + u.count / 2)
            var run: [Range<Int>] = []   // byte ranges of the CJK characters of the current run
            var sawCJK = false
            func flush(atEnd: Bool) {
                guard !run.isEmpty else { return }
                out.append(0x20)
                if run.count == 1 {
                    out.append(contentsOf: u[run[0]])
                } else {
                    for k in 0..<(run.count - 1) {
                        out.append(contentsOf: u[run[k]])
                        out.append(contentsOf: u[run[k + 1]])
                        out.append(0x20)
                    }
                    if !(query && atEnd) { out.append(contentsOf: u[run[run.count - 1]]) }
                }
                out.append(0x20)
                run.removeAll(keepingCapacity: true)
            }
            var i = 0
            while i < u.count {
                let c = u[i]
                if c < 0x80 {
                    flush(atEnd: false)
                    out.append(c)
                    i += 1
                    continue
                }
                let len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1
                let end = min(i + len, u.count)
                var scalar = UInt32(c) & (len == 4 ? 0x07 : len == 3 ? 0x0F : 0x1F)
                for k in (i + 1)..<end { scalar = scalar << 6 | UInt32(u[k] & 0x3F) }
                if len >= 3 && isCJK(scalar) {
                    run.append(i..<end)
                    sawCJK = true
                } else {
                    flush(atEnd: false)
                    out.append(contentsOf: u[i..<end])
                }
                i = end
            }
            flush(atEnd: true)
            return (String(decoding: out, as: UTF8.self), sawCJK)
        }
    }
}
