import PalaceWire

/// `--force-stream` (reference §6): a non-stream chat request goes upstream as a stream, and the client that did
/// not ask for one gets the merged `chat.completion` instead (built by PalaceWire's `CompletionMerger`).
///
/// Why: gateways between a client and the API time out on long silent non-stream answers; a stream keeps bytes
/// flowing. Unlike MoonPalace the rewrite is a JSON edit (never invalid JSON for `{}`, no duplicate `stream` key
/// for `"stream": null`), and the record keeps the client's original body.
enum ForceStream {
    /// The body to send upstream, or nil when the request is left alone: not a JSON object, or already
    /// `"stream": true` (that client streams and gets the stream unchanged). Sets `stream: true` and
    /// `stream_options.include_usage: true`, keeping every other member (and other `stream_options` members).
    /// The usual body (no `stream` member yet) is edited as bytes (`StreamRequestEdit`); the others as a tree.
    static func rewrite(_ body: [UInt8]) -> [UInt8]? {
        switch body.withUnsafeBufferPointer({ StreamRequestEdit.appendingStreamMembers($0) }) {
        case .rewritten(let bytes): return bytes
        case .notAnObject: return nil
        case .undecided: break
        }
        guard case .object(var object)? = try? JSONValue.parse(body) else { return nil }
        if object["stream"]?.boolValue == true { return nil }
        object.set("stream", .bool(true))
        var options: JSONObject
        if case .object(let existing)? = object["stream_options"] { options = existing } else { options = JSONObject() }
        options.set("include_usage", .bool(true))
        object.set("stream_options", .object(options))
        return JSONValue.object(object).serializedBytes()
    }

    /// `/…/chat/completions` (query ignored), the only path force-stream, repeat cuts and auto-cache apply to.
    /// Read on the UTF-8 bytes (this runs for every request): no split, no Unicode-aware suffix comparison.
    static func isChatCompletion(method: String, target: String) -> Bool {
        guard method == "POST" else { return false }
        var path = target.utf8[...]
        if let query = path.firstIndex(of: UInt8(ascii: "?")) { path = path[..<query] }
        while path.last == UInt8(ascii: "/") { path = path.dropLast() }
        let suffix = "/chat/completions".utf8
        return path.count >= suffix.count && path.suffix(suffix.count).elementsEqual(suffix)
    }
}

/// The truncation warning (reference §7, always on): one line per exchange naming `max_tokens` and a number to
/// try, for streams too (from the stream's usage). MoonPalace's wording is kept as the line's start.
enum TruncationWarning {
    /// `completionTokens` is the exchange's total (all choices); `choices` how many choices it has.
    static func text(completionTokens: Int?, choices: Int) -> String {
        guard let total = completionTokens, total > 0 else {
            return "it seems that your max_tokens value is too small, please set a larger value "
                + "(finish_reason \"length\"; the response reported no usage, so no number can be suggested)"
        }
        let perChoice = (total + max(1, choices) - 1) / max(1, choices)
        return "it seems that your max_tokens value is too small, please set a value greater than \(perChoice) "
            + "(finish_reason \"length\" after \(perChoice) completion tokens; try max_tokens=\(suggestion(perChoice)))"
    }

    /// Twice what was produced, rounded up to a multiple of 256.
    static func suggestion(_ used: Int) -> Int {
        let doubled = max(1, used) * 2
        return (doubled + 255) / 256 * 256
    }
}
