import PalaceWire

/// Seeded JSON arguments for a tool call, shaped by the function's JSON-schema `parameters`.
///
/// Invariant: the result is always a valid JSON object text whose keys follow the schema's `properties` order,
/// so a client can `json.loads` it and find every declared property.
enum ToolArguments {
    static func generate(parameters: JSONValue?, rng: inout SeededRandom) -> String {
        guard let parameters, case .object = parameters else { return "{}" }
        return value(for: parameters, rng: &rng, depth: 0)
    }

    private static func value(for schema: JSONValue, rng: inout SeededRandom, depth: Int) -> String {
        if case .array(let options)? = schema["enum"], !options.isEmpty {
            return rng.pick(options).serialized()
        }
        let type: String
        switch schema["type"] {
        case .string(let name)?: type = name
        case .array(let names)?: type = names.first?.stringValue ?? "string"
        default: type = schema["properties"] != nil ? "object" : "string"
        }
        switch type {
        case "object":
            guard depth < 4, case .object(let properties)? = schema["properties"] else { return "{}" }
            var out = "{"
            for (offset, pair) in properties.pairs.enumerated() {
                if offset > 0 { out += ", " }
                JSONText.appendQuoted(pair.key, to: &out)
                out += ": "
                out += value(for: pair.value, rng: &rng, depth: depth + 1)
            }
            return out + "}"
        case "array":
            let item = schema["items"] ?? .object(JSONObject())
            return "[" + value(for: item, rng: &rng, depth: depth + 1) + "]"
        case "integer": return String(rng.within(1...100))
        case "number": return String(rng.within(1...999)) + "." + String(rng.below(10))
        case "boolean": return rng.chance(50) ? "true" : "false"
        case "null": return "null"
        default:
            var words = [rng.pick(WordPools.english)]
            if rng.chance(40) { words.append(rng.pick(WordPools.english)) }
            let text = rng.chance(35) ? rng.pick(WordPools.chinese) + rng.pick(WordPools.chinese) : words.joined(separator: " ")
            return JSONText.quoted(text)
        }
    }

    /// Splits `text` into fragments of 3–10 characters (never inside a character), as streamed argument pieces.
    static func fragments(of text: String, rng: inout SeededRandom) -> [String] {
        var result: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            let size = rng.within(3...10)
            result.append(String(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        return result
    }
}
