/// Byte-level helpers for reading JSON without building `JSONValue`s (the stream merger's fast path).
///
/// `validate` decides whether a document can be read with the unchecked helpers (`skipValue`, `members`,
/// `appendString`): it accepts exactly the documents `JSONParser` accepts whose objects, down to `checkedDepth`
/// containers, have unique keys without escapes; anything else (invalid JSON included) returns false and the
/// caller takes the `JSONValue` path, which decides the same way the parser always did.
struct JSONScan {
    let bytes: UnsafeBufferPointer<UInt8>
    /// After `validate`: the end of the value starting at each value's first byte (other entries are garbage), so
    /// `skipValue` is O(1) and a document is walked once by the validation, not once per nesting level.
    let ends: UnsafeMutableBufferPointer<Int32>?

    init(bytes: UnsafeBufferPointer<UInt8>, ends: UnsafeMutableBufferPointer<Int32>? = nil) {
        self.bytes = bytes
        self.ends = ends
    }

    /// Runs `body` with a scan of `bytes` whose end table is `table` (grown as needed, kept by the caller so a
    /// stream of chunks allocates it once).
    static func withScan<R>(_ bytes: UnsafeBufferPointer<UInt8>, table: inout [Int32], _ body: (JSONScan) throws -> R) rethrows -> R {
        guard bytes.count < Int(Int32.max) else { return try body(JSONScan(bytes: bytes)) }
        if table.count <= bytes.count {
            table.append(contentsOf: repeatElement(0, count: max(bytes.count + 1, 2 * table.count) - table.count))
        }
        return try table.withUnsafeMutableBufferPointer { ends in try body(JSONScan(bytes: bytes, ends: ends)) }
    }

    /// Containers deeper than this are only validated, not checked for duplicate or escaped keys (the fast path
    /// reads objects down to this depth; deeper values always go through `JSONValue.parse`).
    static let checkedDepth = 8
    /// Deeper documents are left to the parser (its own limit is `JSONValue.defaultMaxDepth`).
    static let maxDepth = 64

    // MARK: - Validation

    /// Whether `bytes` is one valid JSON document that the fast path may read (see the type's comment).
    /// `keyScratch` holds key ranges while checking for duplicates (kept by the caller to reuse its storage).
    func validate(keyScratch: inout [Range<Int>]) -> Bool {
        keyScratch.removeAll(keepingCapacity: true)
        var pos = skipWhitespace(0)
        guard validateValue(&pos, depth: 0, keys: &keyScratch) else { return false }
        pos = skipWhitespace(pos)
        return pos == bytes.count
    }

    /// Validates the one value starting at `pos` as `validate` does at nesting `depth` (so a value read on its own
    /// is accepted exactly when it would be inside its document) and moves `pos` past it.
    func validateValue(at pos: inout Int, depth: Int, keyScratch: inout [Range<Int>]) -> Bool {
        keyScratch.removeAll(keepingCapacity: true)
        return validateValue(&pos, depth: depth, keys: &keyScratch)
    }

    private func validateValue(_ pos: inout Int, depth: Int, keys: inout [Range<Int>]) -> Bool {
        let start = pos
        guard validateValueBody(&pos, depth: depth, keys: &keys) else { return false }
        ends?[start] = Int32(truncatingIfNeeded: pos)
        return true
    }

    private func validateValueBody(_ pos: inout Int, depth: Int, keys: inout [Range<Int>]) -> Bool {
        guard pos < bytes.count else { return false }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            guard depth < Self.maxDepth else { return false }
            pos += 1
            pos = skipWhitespace(pos)
            guard pos < bytes.count else { return false }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return true }
            let base = keys.count
            defer { keys.removeLast(keys.count - base) }
            let checked = depth < Self.checkedDepth
            while true {
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { return false }
                let keyStart = pos + 1
                guard let (end, escaped) = validateString(pos) else { return false }
                if checked {
                    if escaped { return false }
                    let key = keyStart..<(end - 1)
                    for other in keys[base...] where equal(other, key) { return false }
                    keys.append(key)
                }
                pos = skipWhitespace(end)
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { return false }
                pos = skipWhitespace(pos + 1)
                guard validateValue(&pos, depth: depth + 1, keys: &keys) else { return false }
                pos = skipWhitespace(pos)
                guard pos < bytes.count else { return false }
                if bytes[pos] == UInt8(ascii: ",") { pos = skipWhitespace(pos + 1); continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; return true }
                return false
            }
        case UInt8(ascii: "["):
            guard depth < Self.maxDepth else { return false }
            pos = skipWhitespace(pos + 1)
            guard pos < bytes.count else { return false }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return true }
            while true {
                guard validateValue(&pos, depth: depth + 1, keys: &keys) else { return false }
                pos = skipWhitespace(pos)
                guard pos < bytes.count else { return false }
                if bytes[pos] == UInt8(ascii: ",") { pos = skipWhitespace(pos + 1); continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return true }
                return false
            }
        case UInt8(ascii: "\""):
            guard let (end, _) = validateString(pos) else { return false }
            pos = end
            return true
        case UInt8(ascii: "t"): return literal(&pos, "true")
        case UInt8(ascii: "f"): return literal(&pos, "false")
        case UInt8(ascii: "n"): return literal(&pos, "null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return validateNumber(&pos)
        default: return false
        }
    }

    private func literal(_ pos: inout Int, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard bytes.count - pos >= n else { return false }
        for i in 0..<n where bytes[pos + i] != word.utf8Start[i] { return false }
        pos += n
        return true
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, as `JSONParser.parseNumber`.
    private func validateNumber(_ pos: inout Int) -> Bool {
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < bytes.count else { return false }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
        } else if isDigit(bytes[pos]) {
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        } else {
            return false
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            guard pos < bytes.count, isDigit(bytes[pos]) else { return false }
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        }
        if pos < bytes.count, bytes[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < bytes.count, isDigit(bytes[pos]) else { return false }
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        }
        return true
    }

    /// A string starting at its opening quote: no raw control characters, valid escapes, valid UTF-8. Returns the
    /// position after the closing quote and whether it contains an escape.
    private func validateString(_ start: Int) -> (Int, Bool)? {
        var pos = start + 1
        var escaped = false
        var ascii = true
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                if !ascii, !Self.validUTF8(UnsafeBufferPointer(rebasing: bytes[(start + 1)..<pos])) { return nil }
                return (pos + 1, escaped)
            }
            if b == UInt8(ascii: "\\") {
                escaped = true
                guard pos + 1 < bytes.count else { return nil }
                switch bytes[pos + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    pos += 2
                case UInt8(ascii: "u"):
                    guard bytes.count - pos >= 6 else { return nil }
                    for i in 2..<6 where !isHex(bytes[pos + i]) { return nil }
                    pos += 6
                default:
                    return nil
                }
                continue
            }
            if b < 0x20 { return nil }
            if b >= 0x80 { ascii = false }
            pos += 1
        }
        return nil
    }

    /// Well-formed UTF-8 (Unicode Table 3-7: no overlong forms, no surrogates, at most U+10FFFF).
    static func validUTF8(_ s: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = s.count
        while i < n {
            let b = s[i]
            if b < 0x80 { i += 1; continue }
            func cont(_ k: Int) -> Bool { i + k < n && s[i + k] & 0xC0 == 0x80 }
            switch b {
            case 0xC2...0xDF:
                guard cont(1) else { return false }
                i += 2
            case 0xE0...0xEF:
                guard i + 1 < n else { return false }
                let c = s[i + 1]
                let ok: Bool = switch b {
                case 0xE0: c >= 0xA0 && c <= 0xBF
                case 0xED: c >= 0x80 && c <= 0x9F
                default: c & 0xC0 == 0x80
                }
                guard ok, cont(2) else { return false }
                i += 3
            case 0xF0...0xF4:
                guard i + 1 < n else { return false }
                let c = s[i + 1]
                let ok: Bool = switch b {
                case 0xF0: c >= 0x90 && c <= 0xBF
                case 0xF4: c >= 0x80 && c <= 0x8F
                default: c & 0xC0 == 0x80
                }
                guard ok, cont(2), cont(3) else { return false }
                i += 4
            default:
                return false
            }
        }
        return true
    }

    // MARK: - Reading a validated document

    @inline(__always) func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }
    @inline(__always) func isHex(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20) &- UInt8(ascii: "a") < 6 }

    @inline(__always)
    func skipWhitespace(_ start: Int) -> Int {
        var pos = start
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return pos
            }
        }
        return pos
    }

    func equal(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where bytes[a.lowerBound + i] != bytes[b.lowerBound + i] { return false }
        return true
    }

    /// Whether the bytes in `range` are `word`.
    @inline(__always)
    func isKey(_ range: Range<Int>, _ word: StaticString) -> Bool {
        guard range.count == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for i in 0..<range.count where bytes[range.lowerBound + i] != w[i] { return false }
        return true
    }

    /// End of the (valid) value starting at `start`.
    @inline(__always)
    func skipValue(_ start: Int) -> Int {
        if let ends { return Int(ends[start]) }
        return scanValue(start)
    }

    /// `skipValue` without the end table.
    func scanValue(_ start: Int) -> Int {
        var pos = start
        switch bytes[pos] {
        case UInt8(ascii: "\""):
            return skipString(pos)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while true {
                let b = bytes[pos]
                if b == UInt8(ascii: "\"") { pos = skipString(pos); continue }
                if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") { depth += 1 }
                else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { return pos + 1 }
                }
                pos += 1
            }
        default:   // number or literal: up to the next structural character or whitespace
            while pos < bytes.count {
                switch bytes[pos] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09: return pos
                default: pos += 1
                }
            }
            return pos
        }
    }

    /// Position after the closing quote of the (valid) string starting at `start`.
    @inline(__always)
    func skipString(_ start: Int) -> Int {
        var pos = start + 1
        while true {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") { return pos + 1 }
            pos += b == UInt8(ascii: "\\") ? 2 : 1
        }
    }

    /// The members of the (valid) object starting at `start`, appended to `out` as (key without quotes, value).
    func members(_ start: Int, into out: inout [(key: Range<Int>, value: Range<Int>)]) {
        var pos = skipWhitespace(start + 1)
        if bytes[pos] == UInt8(ascii: "}") { return }
        while true {
            let keyEnd = skipString(pos)
            let key = (pos + 1)..<(keyEnd - 1)
            pos = skipWhitespace(keyEnd)
            pos = skipWhitespace(pos + 1)   // ':'
            let valueEnd = skipValue(pos)
            out.append((key, pos..<valueEnd))
            pos = skipWhitespace(valueEnd)
            if bytes[pos] == UInt8(ascii: "}") { return }
            pos = skipWhitespace(pos + 1)   // ','
        }
    }

    /// The elements of the (valid) array starting at `start`, appended to `out`.
    func elements(_ start: Int, into out: inout [Range<Int>]) {
        var pos = skipWhitespace(start + 1)
        if bytes[pos] == UInt8(ascii: "]") { return }
        while true {
            let end = skipValue(pos)
            out.append(pos..<end)
            pos = skipWhitespace(end)
            if bytes[pos] == UInt8(ascii: "]") { return }
            pos = skipWhitespace(pos + 1)
        }
    }

    /// Parses the (valid) value in `range` into a `JSONValue` (the generic path for members without a fast path).
    func value(_ range: Range<Int>) -> JSONValue {
        (try? JSONValue.parse(UnsafeBufferPointer(rebasing: bytes[range]))) ?? .null
    }

    /// The value of a non-negative or negative integer literal (`12`, `-3`); nil for anything else (`1.0`, strings).
    func plainInt(_ range: Range<Int>) -> Int? {
        var pos = range.lowerBound
        var negative = false
        if bytes[pos] == UInt8(ascii: "-") { negative = true; pos += 1 }
        guard pos < range.upperBound, range.upperBound - pos <= 18 else { return nil }
        var n = 0
        while pos < range.upperBound {
            let d = bytes[pos] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            n = n * 10 + Int(d)
            pos += 1
        }
        return negative ? -n : n
    }

    /// Appends the decoded UTF-8 of the (valid) string literal in `range` (quotes included) to `out`; escapes are
    /// decoded as `JSONParser` does (a lone surrogate becomes U+FFFD).
    func appendString(_ range: Range<Int>, to out: inout [UInt8]) {
        let end = range.upperBound - 1
        var pos = range.lowerBound + 1
        var runStart = pos
        while pos < end {
            guard bytes[pos] == UInt8(ascii: "\\") else { pos += 1; continue }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<pos]))
            let c = bytes[pos + 1]
            pos += 2
            switch c {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(pos)
                pos += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    if end - pos >= 6, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u"),
                       case let low = hex4(pos + 2), (0xDC00...0xDFFF).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        pos += 6
                    } else {
                        scalar = 0xFFFD
                    }
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    scalar = 0xFFFD
                }
                out.append(contentsOf: UTF8.encode(Unicode.Scalar(scalar) ?? "\u{FFFD}")!)
            default: out.append(c)   // \" \\ \/
            }
            runStart = pos
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<end]))
    }

    /// Whether the (valid) string literal in `range` is empty (`""`).
    @inline(__always) func isEmptyString(_ range: Range<Int>) -> Bool { range.count == 2 }

    private func hex4(_ at: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 {
            let b = bytes[at + i]
            let digit = isDigit(b) ? b - UInt8(ascii: "0") : (b | 0x20) - UInt8(ascii: "a") + 10
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}
