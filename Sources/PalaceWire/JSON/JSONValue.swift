/// A JSON value that round-trips faithfully: object members keep their order (`JSONObject`) and numbers keep
/// their exact source text (`"1.50"` stays `1.50`, big integers never lose digits).
///
/// Invariant: `try JSONValue.parse(v.serialized()) == v` for every value built by the parser; the number text
/// of a value built in code must be a valid JSON number (use `JSONValue.number(_: Int)` / `(_: Double)`).
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// The number exactly as written in the source (valid JSON number grammar).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// A number from an integer.
    public static func number(_ value: Int) -> JSONValue { .number(String(value)) }

    /// A number from a double in its shortest round-trip form; non-finite values become `null`
    /// (JSON has no NaN or infinity).
    public static func number(_ value: Double) -> JSONValue {
        guard value.isFinite else { return .null }
        if value == value.rounded(), abs(value) < 1e15 { return .number(String(Int(value))) }
        return .number(String(value))   // Swift's description is shortest round-trip and JSON-valid ("1e-05")
    }
}

// MARK: - Accessors (nil when the value has another type)

extension JSONValue {
    public var isNull: Bool { if case .null = self { true } else { false } }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }

    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }

    /// The number as an `Int` when it is integral and fits (`3`, `3.0`, `3e2`); nil otherwise.
    public var intValue: Int? {
        guard case .number(let text) = self else { return nil }
        if let i = Int(text) { return i }
        guard let d = Double(text), d == d.rounded(), abs(d) < 9.2e18 else { return nil }
        return Int(d)
    }

    public var doubleValue: Double? {
        guard case .number(let text) = self else { return nil }
        return Double(text)
    }

    /// The exact number text.
    public var numberText: String? { if case .number(let t) = self { t } else { nil } }

    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }

    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }

    /// Member of an object; nil for other types or a missing key.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { o[key] } else { nil }
    }

    /// Element of an array (0-based, non-negative); nil for other types or out of range.
    /// Path lookup (`value(atPath:)`) also accepts negative indices from the end.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }

    /// Structural equality that ignores object member order (numbers still compare by text).
    public func isEquivalent(to other: JSONValue) -> Bool {
        switch (self, other) {
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (key, value) in a {
                guard let bv = b[key], value.isEquivalent(to: bv) else { return false }
            }
            return true
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isEquivalent(to: $1) }
        default:
            return self == other
        }
    }
}

// MARK: - Literals (convenient for building responses and tests)

/// There is deliberately no `ExpressibleByNilLiteral`: `object["k"] == nil` must mean "absent", never `.null`.
extension JSONValue: ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(floatLiteral value: Double) { self = JSONValue.number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// Members keep their written order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}
