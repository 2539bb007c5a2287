/// One step of a path into a JSON value.
public enum JSONPathComponent: Sendable, Hashable, CustomStringConvertible {
    /// Member of an object.
    case key(String)
    /// Element of an array; negative counts from the end (`-1` is the last element).
    case index(Int)

    public var description: String {
        switch self {
        case .key(let k): k
        case .index(let i): String(i)
        }
    }
}

/// Dotted paths as the predicate language writes them: `response_body.choices.0.finish_reason`, `messages.-1.role`.
public enum JSONPath {
    /// Splits at `.`; a segment that is an integer (optionally negative) becomes `.index`, anything else `.key`.
    /// Empty segments are kept as empty keys (`a..b` looks up the key "" in `a`).
    public static func parse(_ path: String) -> [JSONPathComponent] {
        guard !path.isEmpty else { return [] }
        return path.split(separator: ".", omittingEmptySubsequences: false).map { segment in
            if let i = Int(segment) { return .index(i) }
            return .key(String(segment))
        }
    }
}

extension JSONValue {
    /// The value at `path`, or nil when any step is missing or has the wrong type.
    /// Lenient where the dotted syntax is ambiguous: `.index(n)` on an object looks up the key "n", and
    /// `.key("n")` on an array uses the integer n.
    public func value(atPath path: [JSONPathComponent]) -> JSONValue? {
        var current = self
        for component in path {
            switch (component, current) {
            case (.key(let key), .object(let object)):
                guard let next = object[key] else { return nil }
                current = next
            case (.index(let i), .array(let items)):
                guard let next = Self.element(items, i) else { return nil }
                current = next
            case (.index(let i), .object(let object)):
                guard let next = object[String(i)] else { return nil }
                current = next
            case (.key(let key), .array(let items)):
                guard let i = Int(key), let next = Self.element(items, i) else { return nil }
                current = next
            default:
                return nil
            }
        }
        return current
    }

    /// The value at a dotted path (`choices.0.message.content`); see `JSONPath.parse`.
    public func value(atPath dotted: String) -> JSONValue? {
        value(atPath: JSONPath.parse(dotted))
    }

    private static func element(_ items: [JSONValue], _ i: Int) -> JSONValue? {
        let j = i < 0 ? items.count + i : i
        return items.indices.contains(j) ? items[j] : nil
    }
}
