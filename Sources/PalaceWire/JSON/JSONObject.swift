/// A JSON object that keeps its members in insertion order (the order they appeared in the parsed text).
///
/// Invariants: keys are unique (setting an existing key replaces its value in place, keeping its position;
/// a parsed duplicate key therefore keeps the first position and the last value); equality and hashing
/// are order-sensitive, so two objects are `==` exactly when they serialize to the same bytes.
/// Use `JSONValue.isEquivalent(to:)` to compare ignoring member order.
/// Lookup is linear for small objects and hashed once an object grows past `indexThreshold` members.
public struct JSONObject: Sendable, Hashable {
    public private(set) var keys: [String] = []
    public private(set) var values: [JSONValue] = []
    /// key → position, built only for large objects (derived state: ignored by `==` and `hash`).
    private var positions: [String: Int]? = nil

    static let indexThreshold = 12

    public init() {}

    /// Builds an object from pairs; a repeated key keeps its first position and its last value.
    public init(_ pairs: some Sequence<(String, JSONValue)>) {
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Members in order.
    public var pairs: [(key: String, value: JSONValue)] {
        Array(zip(keys, values).lazy.map { (key: $0.0, value: $0.1) })
    }

    /// Position of `key`, or nil.
    public func position(of key: String) -> Int? {
        if let positions { return positions[key] }
        return keys.firstIndex(of: key)
    }

    public func contains(_ key: String) -> Bool { position(of: key) != nil }

    /// The member's value; setting nil removes the member, setting a value replaces in place or appends.
    public subscript(key: String) -> JSONValue? {
        get {
            guard let i = position(of: key) else { return nil }
            return values[i]
        }
        set {
            if let newValue { set(key, newValue) } else { removeValue(forKey: key) }
        }
    }

    /// Replaces the value of `key` in place, or appends the member at the end.
    public mutating func set(_ key: String, _ value: JSONValue) {
        if let i = position(of: key) {
            values[i] = value
            return
        }
        keys.append(key)
        values.append(value)
        if positions != nil {
            positions![key] = keys.count - 1
        } else if keys.count > Self.indexThreshold {
            positions = Dictionary(uniqueKeysWithValues: zip(keys, keys.indices))
        }
    }

    /// Appends a member whose key the caller knows to be new (no lookup). Used by the parser after it checked.
    mutating func appendNew(_ key: String, _ value: JSONValue) {
        keys.append(key)
        values.append(value)
        if positions != nil {
            positions![key] = keys.count - 1
        } else if keys.count > Self.indexThreshold {
            positions = Dictionary(uniqueKeysWithValues: zip(keys, keys.indices))
        }
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let i = position(of: key) else { return nil }
        keys.remove(at: i)
        let old = values.remove(at: i)
        if positions != nil {
            positions = keys.count > Self.indexThreshold
                ? Dictionary(uniqueKeysWithValues: zip(keys, keys.indices)) : nil
        }
        return old
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.keys == rhs.keys && lhs.values == rhs.values
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(keys)
        hasher.combine(values)
    }
}

extension JSONObject: Sequence {
    public func makeIterator() -> some IteratorProtocol<(key: String, value: JSONValue)> {
        zip(keys, values).lazy.map { (key: $0.0, value: $0.1) }.makeIterator()
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// Literal members keep their written order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}
