/// A JSON object that keeps its members in insertion order (the order they appeared in the parsed text).
///
/// Invariants: keys are unique (setting an existing key replaces its value in place, keeping its position;
/// a parsed duplicate key therefore keeps the first position and the last value); equality and hashing
/// are order-sensitive, so two objects are `==` exactly when they serialize to the same bytes.
/// Use `JSONValue.isEquivalent(to:)` to compare ignoring member order.
/// Lookup is linear for small objects and hashed once an object grows past `indexThreshold` members.
public struct JSONObject: Sendable, Hashable {
    /// One member; a single array of these keeps an object to one allocation.
    struct Member: Sendable, Hashable {
        var key: String
        var value: JSONValue
    }

    private(set) var members: [Member] = []
    /// key → position, built only for large objects (derived state: ignored by `==` and `hash`).
    private var positions: [String: Int]? = nil

    static let indexThreshold = 12

    public init() {}

    /// Builds an object from pairs; a repeated key keeps its first position and its last value.
    public init(_ pairs: some Sequence<(String, JSONValue)>) {
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }

    /// Keys in order.
    public var keys: [String] { members.map(\.key) }
    /// Values in key order.
    public var values: [JSONValue] { members.map(\.value) }

    /// Members in order.
    public var pairs: [(key: String, value: JSONValue)] { members.map { (key: $0.key, value: $0.value) } }

    /// Key and value at a position (0 ..< count).
    public func member(at position: Int) -> (key: String, value: JSONValue) {
        (members[position].key, members[position].value)
    }

    /// Position of `key`, or nil.
    public func position(of key: String) -> Int? {
        if let positions { return positions[key] }
        for i in members.indices where members[i].key == key { return i }
        return nil
    }

    public func contains(_ key: String) -> Bool { position(of: key) != nil }

    /// The member's value; setting nil removes the member, setting a value replaces in place or appends.
    public subscript(key: String) -> JSONValue? {
        get {
            guard let i = position(of: key) else { return nil }
            return members[i].value
        }
        set {
            if let newValue { set(key, newValue) } else { removeValue(forKey: key) }
        }
    }

    /// Replaces the value of `key` in place, or appends the member at the end.
    public mutating func set(_ key: String, _ value: JSONValue) {
        if let i = position(of: key) {
            members[i].value = value
            return
        }
        appendNew(key, value)
    }

    /// An object from members whose keys the caller knows to be unique (the parser checked).
    init(uniqueMembers: [Member]) {
        members = uniqueMembers
        if members.count > Self.indexThreshold { rebuildPositions() }
    }

    /// Appends a member whose key the caller knows to be new (no lookup). Used by the parser after it checked.
    mutating func appendNew(_ key: String, _ value: JSONValue) {
        members.append(Member(key: key, value: value))
        if positions != nil {
            positions![key] = members.count - 1
        } else if members.count > Self.indexThreshold {
            rebuildPositions()
        }
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let i = position(of: key) else { return nil }
        let old = members.remove(at: i).value
        if positions != nil {
            positions = nil
            if members.count > Self.indexThreshold { rebuildPositions() }
        }
        return old
    }

    private mutating func rebuildPositions() {
        var map = [String: Int](minimumCapacity: members.count * 2)
        for (i, m) in members.enumerated() { map[m.key] = i }
        positions = map
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members == rhs.members
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(members)
    }
}

extension JSONObject: Sequence {
    public struct Iterator: IteratorProtocol {
        var base: IndexingIterator<[Member]>
        public mutating func next() -> (key: String, value: JSONValue)? {
            guard let m = base.next() else { return nil }
            return (m.key, m.value)
        }
    }

    public func makeIterator() -> Iterator { Iterator(base: members.makeIterator()) }
    public var underestimatedCount: Int { members.count }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// Literal members keep their written order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}
