import CPalaceFTS
/// A JSON reader over raw bytes that builds no tree: it validates a body the way SQLite's `json_valid` does and
/// finds the bytes of the value at a JSON path the way `json_extract` does, so the indexer and the residual
/// check can decide body predicates without parsing whole bodies into `JSONValue`s.
///
/// Invariants (matching SQLite 3.40's json.c, the library the index runs on):
/// - `isValid` accepts exactly RFC 8259 text with optional surrounding space/tab/CR/LF; strings may not contain
///   raw control characters; a NUL byte ends the input (SQLite reads text up to the first NUL); nesting deeper
///   than 2000 is invalid.
/// - `find` follows `.key` steps only into objects and compares the key with the member's raw label bytes (as
///   written, escapes not decoded; the first equal member wins), `.index(n)` only into arrays (negative n counts
///   from the end). The returned range is one value, so `json_extract(<those bytes>, '$')` equals
///   `json_extract(<body>, <path>)` for a valid body.
public enum JSONBytes {
    static let maxDepth = 2000

    @inline(__always) static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }

    /// Whether `bytes` is valid JSON for SQLite.
    public static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { isValid($0) }
    }

    public static func isValid(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = b.firstIndex(of: 0) ?? b.count
        let b = UnsafeBufferPointer(rebasing: b[0..<n])
        var i = 0
        skipSpace(b, &i)
        guard skipValue(b, &i, depth: 0) else { return false }
        skipSpace(b, &i)
        return i == b.count
    }

    @inline(__always) static func skipSpace(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) {
        while i < b.count && isSpace(b[i]) { i += 1 }
    }

    /// Skips (and validates) the value starting at `b[i]`; `i` ends just after it.
    static func skipValue(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, depth: Int) -> Bool {
        guard i < b.count else { return false }
        switch b[i] {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { return false }
            i += 1
            skipSpace(b, &i)
            if i < b.count && b[i] == UInt8(ascii: "}") { i += 1; return true }
            while true {
                guard i < b.count, b[i] == UInt8(ascii: "\""), skipString(b, &i) else { return false }
                skipSpace(b, &i)
                guard i < b.count, b[i] == UInt8(ascii: ":") else { return false }
                i += 1
                skipSpace(b, &i)
                guard skipValue(b, &i, depth: depth + 1) else { return false }
                skipSpace(b, &i)
                guard i < b.count else { return false }
                if b[i] == UInt8(ascii: ",") { i += 1; skipSpace(b, &i); continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return true }
                return false
            }
        case UInt8(ascii: "["):
            guard depth < maxDepth else { return false }
            i += 1
            skipSpace(b, &i)
            if i < b.count && b[i] == UInt8(ascii: "]") { i += 1; return true }
            while true {
                guard skipValue(b, &i, depth: depth + 1) else { return false }
                skipSpace(b, &i)
                guard i < b.count else { return false }
                if b[i] == UInt8(ascii: ",") { i += 1; skipSpace(b, &i); continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return true }
                return false
            }
        case UInt8(ascii: "\""):
            return skipString(b, &i)
        case UInt8(ascii: "t"): return literal(b, &i, "true")
        case UInt8(ascii: "f"): return literal(b, &i, "false")
        case UInt8(ascii: "n"): return literal(b, &i, "null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return skipNumber(b, &i)
        default:
            return false
        }
    }

    static func literal(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { return false }
        let w = word.utf8Start
        for k in 0..<n where b[i + k] != w[k] { return false }
        i += n
        return true
    }

    /// A string starting at the opening quote; `i` ends after the closing quote.
    static func skipString(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        var j = i + 1
        while j < b.count {
            // Straight to the next quote, backslash or control character (16 bytes per step, CPalaceFTS).
            if let base = b.baseAddress { j = palace_json_string_stop(base, b.count, j) }
            guard j < b.count else { break }
            let c = b[j]
            if c == UInt8(ascii: "\"") { i = j + 1; return true }
            if c < 0x20 { return false }
            if c == UInt8(ascii: "\\") {
                j += 1
                guard j < b.count else { return false }
                switch b[j] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard j + 4 < b.count, (1...4).allSatisfy({ hexValue(b[j + $0]) != nil }) else { return false }
                    j += 4
                default:
                    return false
                }
            }
            j += 1
        }
        return false
    }

    /// RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    static func skipNumber(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        var j = i
        @inline(__always) func digit(_ k: Int) -> Bool { k < b.count && b[k] >= 0x30 && b[k] <= 0x39 }
        if b[j] == UInt8(ascii: "-") { j += 1 }
        guard digit(j) else { return false }
        if b[j] == UInt8(ascii: "0") {
            j += 1
            if digit(j) { return false }
        } else {
            while digit(j) { j += 1 }
        }
        if j < b.count && b[j] == UInt8(ascii: ".") {
            j += 1
            guard digit(j) else { return false }
            while digit(j) { j += 1 }
        }
        if j < b.count && (b[j] == UInt8(ascii: "e") || b[j] == UInt8(ascii: "E")) {
            j += 1
            if j < b.count && (b[j] == UInt8(ascii: "+") || b[j] == UInt8(ascii: "-")) { j += 1 }
            guard digit(j) else { return false }
            while digit(j) { j += 1 }
        }
        i = j
        return true
    }

    @inline(__always) static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case 0x30...0x39: return UInt32(c - 0x30)
        case 0x41...0x46: return UInt32(c - 0x41 + 10)
        case 0x61...0x66: return UInt32(c - 0x61 + 10)
        default: return nil
        }
    }

    // MARK: - Paths

    /// The byte range of the value at `path` in the valid JSON `b`, or nil when the path leads nowhere.
    public static func find(_ b: UnsafeBufferPointer<UInt8>, path: [PredicatePathStep]) -> Range<Int>? {
        let n = b.firstIndex(of: 0) ?? b.count
        let b = UnsafeBufferPointer(rebasing: b[0..<n])
        var i = 0
        skipSpace(b, &i)
        for step in path {
            switch step {
            case .key(let key):
                guard let v = member(b, objectAt: i, key: key) else { return nil }
                i = v
            case .index(let k):
                guard let v = element(b, arrayAt: i, index: k) else { return nil }
                i = v
            }
        }
        var end = i
        guard skipValue(b, &end, depth: 0) else { return nil }
        return i..<end
    }

    /// Start of the value of the first member whose raw label equals `key`, in the object at `i`.
    static func member(_ b: UnsafeBufferPointer<UInt8>, objectAt start: Int, key: String) -> Int? {
        var found: Int?
        var key = key
        key.withUTF8 { k in
            _ = forEachMember(b, objectAt: start) { label, value in
                guard label.count == k.count else { return true }
                for x in 0..<k.count where b[label.lowerBound + x] != k[x] { return true }
                found = value
                return false
            }
        }
        return found
    }

    /// Start of element `index` (negative: from the end) of the array at `i`.
    static func element(_ b: UnsafeBufferPointer<UInt8>, arrayAt start: Int, index: Int) -> Int? {
        if index >= 0 {
            var k = 0, found: Int?
            _ = forEachElement(b, arrayAt: start) { v in
                if k == index { found = v; return false }
                k += 1
                return true
            }
            return found
        }
        var starts: [Int] = []
        _ = forEachElement(b, arrayAt: start) { starts.append($0); return true }
        let k = starts.count + index
        return k >= 0 && k < starts.count ? starts[k] : nil
    }

    /// Calls `body(labelRange, valueStart)` for each member of the object at `i` (labels without quotes) until it
    /// returns false. False when `i` is not an object.
    @discardableResult
    static func forEachMember(_ b: UnsafeBufferPointer<UInt8>, objectAt start: Int,
                              _ body: (Range<Int>, Int) -> Bool) -> Bool {
        guard start < b.count, b[start] == UInt8(ascii: "{") else { return false }
        var i = start + 1
        skipSpace(b, &i)
        if i < b.count && b[i] == UInt8(ascii: "}") { return true }
        while i < b.count, b[i] == UInt8(ascii: "\"") {
            let labelStart = i + 1
            guard skipString(b, &i) else { return false }
            let label = labelStart..<(i - 1)
            skipSpace(b, &i)
            guard i < b.count, b[i] == UInt8(ascii: ":") else { return false }
            i += 1
            skipSpace(b, &i)
            if !body(label, i) { return true }
            guard skipValue(b, &i, depth: 0) else { return false }
            skipSpace(b, &i)
            guard i < b.count, b[i] == UInt8(ascii: ",") else { return true }
            i += 1
            skipSpace(b, &i)
        }
        return true
    }

    /// Calls `body(valueStart)` for each element of the array at `i` until it returns false.
    @discardableResult
    static func forEachElement(_ b: UnsafeBufferPointer<UInt8>, arrayAt start: Int, _ body: (Int) -> Bool) -> Bool {
        guard start < b.count, b[start] == UInt8(ascii: "[") else { return false }
        var i = start + 1
        skipSpace(b, &i)
        if i < b.count && b[i] == UInt8(ascii: "]") { return true }
        while i < b.count {
            if !body(i) { return true }
            guard skipValue(b, &i, depth: 0) else { return false }
            skipSpace(b, &i)
            guard i < b.count, b[i] == UInt8(ascii: ",") else { return true }
            i += 1
            skipSpace(b, &i)
        }
        return true
    }

    /// The decoded text of the string value at `i`, or nil when it is not a string.
    static func string(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> String? {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
        let j = i + 1
        // Fast path: no escapes.
        var k = j
        while k < b.count && b[k] != UInt8(ascii: "\"") && b[k] != UInt8(ascii: "\\") { k += 1 }
        if k < b.count && b[k] == UInt8(ascii: "\"") {
            return String(decoding: UnsafeBufferPointer(rebasing: b[j..<k]), as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(k - j + 16)
        appendString(b, at: i, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the decoded UTF-8 of the string value at `i` (which must start with a quote) to `out`: runs
    /// without escapes are copied whole, escapes decoded (a lone surrogate becomes U+FFFD, as in `string`).
    static func appendString(_ b: UnsafeBufferPointer<UInt8>, at i: Int, into out: inout [UInt8]) {
        guard i < b.count, b[i] == UInt8(ascii: "\""), let base = b.baseAddress else { return }
        var j = i + 1
        while j < b.count {
            var k = j
            while k + 8 <= b.count {
                let w = UInt64(littleEndian: UnsafeRawPointer(base + k).loadUnaligned(as: UInt64.self))
                let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
                let q = w ^ 0x2222_2222_2222_2222, s = w ^ 0x5C5C_5C5C_5C5C_5C5C
                if (((q &- ones) & ~q) | ((s &- ones) & ~s)) & highs != 0 { break }
                k += 8
            }
            while k < b.count && b[k] != UInt8(ascii: "\"") && b[k] != UInt8(ascii: "\\") { k += 1 }
            if k > j { out.append(contentsOf: UnsafeBufferPointer(start: base + j, count: k - j)) }
            j = k
            guard j < b.count, b[j] == UInt8(ascii: "\\") else { return }
            j += 1
            guard j < b.count else { return }
            switch b[j] {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                var u: UInt32 = 0
                for x in 1...4 { u = u << 4 | (j + x < b.count ? hexValue(b[j + x]) ?? 0 : 0) }
                j += 4
                if (0xD800..<0xDC00).contains(u), j + 6 < b.count, b[j + 1] == UInt8(ascii: "\\"),
                   b[j + 2] == UInt8(ascii: "u") {
                    var lo: UInt32 = 0
                    for x in 3...6 { lo = lo << 4 | (hexValue(b[j + x]) ?? 0) }
                    if (0xDC00..<0xE000).contains(lo) {
                        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                        j += 6
                    }
                }
                appendUTF8(u, into: &out)
            default: out.append(b[j])
            }
            j += 1
        }
    }

    /// The UTF-8 of scalar `u` (U+FFFD for a surrogate or a value past U+10FFFF).
    @inline(__always) static func appendUTF8(_ u: UInt32, into out: inout [UInt8]) {
        let u = (0xD800...0xDFFF).contains(u) || u > 0x10FFFF ? 0xFFFD : u
        if u < 0x80 { out.append(UInt8(u)) }
        else if u < 0x800 { out.append(UInt8(0xC0 | u >> 6)); out.append(UInt8(0x80 | u & 0x3F)) }
        else if u < 0x10000 {
            out.append(UInt8(0xE0 | u >> 12)); out.append(UInt8(0x80 | (u >> 6) & 0x3F)); out.append(UInt8(0x80 | u & 0x3F))
        } else {
            out.append(UInt8(0xF0 | u >> 18)); out.append(UInt8(0x80 | (u >> 12) & 0x3F))
            out.append(UInt8(0x80 | (u >> 6) & 0x3F)); out.append(UInt8(0x80 | u & 0x3F))
        }
    }
}
