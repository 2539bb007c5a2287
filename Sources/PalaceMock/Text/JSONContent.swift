/// Seeded content for `response_format: {"type":"json_object"}`: one JSON object, as token-sized fragments.
///
/// Invariant: the fragments concatenate to a valid JSON object (escaping token by token equals escaping the
/// whole text); a cut list (max_tokens, `length`) is a truncated object, as the real API gives with
/// finish_reason "length".
enum JSONContent {
    static func fragments(seed: UInt64, tokens: Int) -> [String] {
        var rng = SeededRandom(seed: seed ^ 0x150B_1EC7)
        var text = TextGenerator(seed: seed)
        var out: [String] = ["{\"", "answer", "\": \""]
        for _ in 0..<max(1, tokens - 18) {
            var piece = ""
            JSONText.appendEscaped(text.next(), to: &piece)
            out.append(piece)
        }
        out += ["\", \"", "language", "\": \"", rng.pick(["zh", "en", "mixed"]), "\", \""]
        out += ["confidence", "\": ", "0.\(rng.within(50...99))", ", \"", "keywords", "\": ["]
        for index in 0..<3 { out.append((index > 0 ? ", " : "") + JSONText.quoted(rng.pick(WordPools.english))) }
        out.append("]}")
        return out
    }
}
