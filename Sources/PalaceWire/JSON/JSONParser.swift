extension JSONValue {
    /// Default nesting limit: deep enough for any real API payload, shallow enough to keep the recursive
    /// parser far from the stack limit.
    public static let defaultMaxDepth = 512

    /// Parses one JSON document (RFC 8259) from UTF-8 bytes: surrounding whitespace allowed, nothing else after.
    /// Strings must be valid UTF-8; a lone `\u` surrogate escape (which a Swift `String` cannot hold) becomes U+FFFD.
    public static func parse(_ bytes: some Collection<UInt8>, maxDepth: Int = defaultMaxDepth) throws(JSONError) -> JSONValue {
        let result: Result<JSONValue, JSONError>? = bytes.withContiguousStorageIfAvailable { buffer in
            var parser = JSONParser(bytes: buffer, maxDepth: maxDepth)
            return Result { () throws(JSONError) in try parser.parseDocument() }
        }
        if let result { return try result.get() }
        return try parse(Array(bytes), maxDepth: maxDepth)
    }

    /// Parses one JSON document from text.
    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONError) -> JSONValue {
        var text = text
        let result = text.withUTF8 { buffer in
            var parser = JSONParser(bytes: buffer, maxDepth: maxDepth)
            return Result { () throws(JSONError) in try parser.parseDocument() }
        }
        return try result.get()
    }
}

/// Recursive-descent parser over a contiguous byte buffer; each byte is looked at a bounded number of times.
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var pos = 0
    var memberScratch: [JSONObject.Member] = []
    var valueScratch: [JSONValue] = []

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        memberScratch.reserveCapacity(16)
        valueScratch.reserveCapacity(16)
    }

    mutating func parseDocument() throws(JSONError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        if pos < bytes.count { throw JSONError(.trailingData, at: pos) }
        return value
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return
            }
        }
    }

    @inline(__always)
    func peek() throws(JSONError) -> UInt8 {
        guard pos < bytes.count else { throw JSONError(.unexpectedEnd, at: pos) }
        return bytes[pos]
    }

    mutating func parseValue(depth: Int) throws(JSONError) -> JSONValue {
        switch try peek() {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw JSONError(.unexpectedByte, at: pos, "expected a value, found \(describe(bytes[pos]))")
        }
    }

    mutating func expectLiteral(_ word: StaticString) throws(JSONError) {
        let start = pos
        let n = word.utf8CodeUnitCount
        guard bytes.count - pos >= n else { throw JSONError(.unexpectedEnd, at: bytes.count, "in literal") }
        let w = word.utf8Start
        for i in 0..<n where bytes[pos + i] != w[i] {
            throw JSONError(.unexpectedByte, at: pos + i, "invalid literal starting at byte \(start)")
        }
        pos += n
    }

    mutating func parseObject(depth: Int) throws(JSONError) -> JSONValue {
        if depth > maxDepth { throw JSONError(.tooDeep(limit: maxDepth), at: pos) }
        pos += 1  // {
        skipWhitespace()
        if try peek() == UInt8(ascii: "}") { pos += 1; return .object(JSONObject()) }
        // Members collect on a scratch stack shared by all nesting levels, so each object costs one exact-size
        // allocation instead of repeated array growth.
        let base = memberScratch.count
        defer { memberScratch.removeLast(memberScratch.count - base) }
        var seen: [String: Int]? = nil   // duplicate check for large objects
        while true {
            guard try peek() == UInt8(ascii: "\"") else {
                throw JSONError(.unexpectedByte, at: pos, "expected '\"' to start an object key, found \(describe(bytes[pos]))")
            }
            let key = try parseString()
            skipWhitespace()
            guard try peek() == UInt8(ascii: ":") else {
                throw JSONError(.unexpectedByte, at: pos, "expected ':' after an object key, found \(describe(bytes[pos]))")
            }
            pos += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            if let at = duplicatePosition(of: key, base: base, seen: &seen) {
                memberScratch[at].value = value   // a repeated key keeps its first position, takes the last value
            } else {
                memberScratch.append(JSONObject.Member(key: key, value: value))
            }
            skipWhitespace()
            switch try peek() {
            case UInt8(ascii: ","): pos += 1; skipWhitespace()
            case UInt8(ascii: "}"):
                pos += 1
                return .object(JSONObject(uniqueMembers: Array(memberScratch[base...])))
            default: throw JSONError(.unexpectedByte, at: pos, "expected ',' or '}' in an object, found \(describe(bytes[pos]))")
            }
        }
    }

    /// Position in `memberScratch` of an earlier member with `key` in the object starting at `base`.
    private func duplicatePosition(of key: String, base: Int, seen: inout [String: Int]?) -> Int? {
        let count = memberScratch.count - base
        if count <= JSONObject.indexThreshold {
            for i in base..<memberScratch.count where memberScratch[i].key == key { return i }
            return nil
        }
        if seen == nil {
            var map = [String: Int](minimumCapacity: count * 2)
            for i in base..<memberScratch.count { map[memberScratch[i].key] = i }
            seen = map
        }
        if let at = seen![key] { return at }
        seen![key] = memberScratch.count   // where the caller appends it
        return nil
    }

    mutating func parseArray(depth: Int) throws(JSONError) -> JSONValue {
        if depth > maxDepth { throw JSONError(.tooDeep(limit: maxDepth), at: pos) }
        pos += 1  // [
        skipWhitespace()
        if try peek() == UInt8(ascii: "]") { pos += 1; return .array([]) }
        let base = valueScratch.count
        defer { valueScratch.removeLast(valueScratch.count - base) }
        while true {
            let value = try parseValue(depth: depth)
            valueScratch.append(value)
            skipWhitespace()
            switch try peek() {
            case UInt8(ascii: ","): pos += 1; skipWhitespace()
            case UInt8(ascii: "]"): pos += 1; return .array(Array(valueScratch[base...]))
            default: throw JSONError(.unexpectedByte, at: pos, "expected ',' or ']' in an array, found \(describe(bytes[pos]))")
            }
        }
    }

    /// Number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`; the text is kept verbatim.
    mutating func parseNumber() throws(JSONError) -> String {
        let start = pos
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < bytes.count else { throw JSONError(.unexpectedEnd, at: pos, "in a number") }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
        } else if isDigit(bytes[pos]) {
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        } else {
            throw JSONError(.invalidNumber, at: pos, "expected a digit")
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw JSONError(.invalidNumber, at: pos, "expected a digit after '.'") }
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        }
        if pos < bytes.count, bytes[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw JSONError(.invalidNumber, at: pos, "expected a digit in the exponent") }
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
    }

    @inline(__always) func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }

    func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16, uppercase: true)
    }
}
