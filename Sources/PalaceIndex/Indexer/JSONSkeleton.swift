import PalaceWire

/// The compact JSON the index keeps of a request or response body, for JSON-path predicates in SQL.
///
/// Invariant: the skeleton is the body's JSON with every string longer than `maxStringBytes` UTF-8 bytes replaced
/// by `marker` (U+E000); everything else — keys, order, numbers as written, short strings, arrays — is kept. So
/// `json_extract(skeleton, path)` equals `json_extract(body, path)` unless the result contains the marker, in
/// which case the predicate planner marks the row uncertain and decides it from the log.
public enum JSONSkeleton {
    public static let maxStringBytes = 24
    public static let marker = "\u{E000}"

    /// Skeleton text of `bytes`; `.notJSON` for an empty body or one that is not JSON (then JSON paths are NULL in
    /// the index and in the residual table alike), `.unknown` when it could not be built.
    public enum Result: Equatable { case json(String), notJSON, unknown }

    public static func of(_ bytes: [UInt8]) -> Result {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .notJSON }
        let first = bytes.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) ?? 0
        // Only objects and arrays are worth a skeleton; a scalar body is rare: let the residual decide it.
        guard first == UInt8(ascii: "{") || first == UInt8(ascii: "[") else {
            return first == UInt8(ascii: "\"") || first == UInt8(ascii: "-") || (48...57).contains(first)
                || first == UInt8(ascii: "t") || first == UInt8(ascii: "f") || first == UInt8(ascii: "n")
                ? .unknown : .notJSON
        }
        guard let value = try? JSONValue.parse(bytes) else { return .unknown }
        return .json(skeleton(value).serialized())
    }

    public static func skeleton(_ v: JSONValue) -> JSONValue {
        switch v {
        case .string(let s): return s.utf8.count > maxStringBytes ? .string(marker) : v
        case .array(let xs): return .array(xs.map(skeleton))
        case .object(let o): return .object(JSONObject(o.pairs.map { ($0.key, skeleton($0.value)) }))
        default: return v
        }
    }
}

/// The text full-text search sees: what was asked (message contents of a chat request, or `prompt`/`input`) and
/// what was answered (message content and reasoning of each choice). Each side is capped at `maxCharacters`
/// (the start and the end are kept) to bound index size and rebuild time.
public enum SearchText {
    public static let maxCharacters = 2000

    public static func prompt(of request: JSONValue) -> String {
        var parts: [String] = []
        if let messages = request["messages"]?.arrayValue {
            for m in messages { parts.append(contentsOf: texts(m["content"])) }
        }
        for key in ["prompt", "input"] { parts.append(contentsOf: texts(request[key])) }
        return cap(parts.joined(separator: "\n"))
    }

    public static func answer(of response: JSONValue) -> String {
        var parts: [String] = []
        for choice in response["choices"]?.arrayValue ?? [] {
            let m = choice["message"] ?? choice["delta"]
            parts.append(contentsOf: texts(m?["reasoning_content"]))
            parts.append(contentsOf: texts(m?["content"]))
            if let t = choice["text"]?.stringValue { parts.append(t) }
            for call in m?["tool_calls"]?.arrayValue ?? [] {
                parts.append(contentsOf: texts(call["function"]?["arguments"]))
            }
        }
        return cap(parts.joined(separator: "\n"))
    }

    static func texts(_ v: JSONValue?) -> [String] {
        switch v {
        case .string(let s)?: return [s]
        case .array(let xs)?: return xs.compactMap { $0["text"]?.stringValue ?? $0.stringValue }
        default: return []
        }
    }

    static func cap(_ s: String) -> String {
        guard s.count > maxCharacters else { return s }
        let half = maxCharacters / 2
        return String(s.prefix(half)) + "\n…\n" + String(s.suffix(half))
    }
}
