extension JSONValue {
    /// JSON text of this value. Compact by default (no spaces); `pretty` puts one member per line with
    /// `indent` spaces per level and `": "` after keys. Strings escape only what JSON requires (`"`, `\`,
    /// control characters); `/`, `<`, `>`, `&` and all non-ASCII characters are written as-is (UTF-8).
    public func serialized(pretty: Bool = false, indent: Int = 2) -> String {
        String(decoding: serializedBytes(pretty: pretty, indent: indent), as: UTF8.self)
    }

    /// The same text as `serialized`, as UTF-8 bytes (no intermediate String).
    public func serializedBytes(pretty: Bool = false, indent: Int = 2) -> [UInt8] {
        var writer = JSONWriter(pretty: pretty, indent: indent)
        writer.write(self, level: 0)
        return writer.out
    }
}

extension JSONObject {
    /// Compact (or pretty) JSON text of this object; see `JSONValue.serialized`.
    public func serialized(pretty: Bool = false, indent: Int = 2) -> String {
        JSONValue.object(self).serialized(pretty: pretty, indent: indent)
    }
}

struct JSONWriter {
    var out: [UInt8] = []
    let pretty: Bool
    let indent: Int

    init(pretty: Bool, indent: Int) {
        self.pretty = pretty
        self.indent = max(0, indent)
        out.reserveCapacity(256)
    }

    mutating func write(_ value: JSONValue, level: Int) {
        switch value {
        case .null: append("null")
        case .bool(let b): append(b ? "true" : "false")
        case .number(let text): appendRaw(text)
        case .string(let s): writeString(s)
        case .array(let items):
            if items.isEmpty { append("[]"); return }
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(level + 1)
                write(item, level: level + 1)
            }
            newline(level)
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.isEmpty { append("{}"); return }
            out.append(UInt8(ascii: "{"))
            for (i, member) in object.members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(level + 1)
                writeString(member.key)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(UInt8(ascii: " ")) }
                write(member.value, level: level + 1)
            }
            newline(level)
            out.append(UInt8(ascii: "}"))
        }
    }

    @inline(__always)
    mutating func newline(_ level: Int) {
        guard pretty else { return }
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: level * indent))
    }

    @inline(__always)
    mutating func append(_ s: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func appendRaw(_ s: String) {
        var s = s
        s.withUTF8 { out.append(contentsOf: $0) }
    }

    mutating func writeString(_ s: String) {
        JSONValue.appendString(s, to: &out)
    }

    /// Appends `utf8` (valid UTF-8) as a JSON string literal: only `"`, `\\` and control characters are escaped.
    /// Sized first, then written through a pointer, 8 bytes at a time where nothing needs escaping (body text
    /// is long and its quotes are many: appending run by run cost more than the scan).
    static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        guard let src = bytes.baseAddress, !bytes.isEmpty else {
            out.append(UInt8(ascii: "\"")); out.append(UInt8(ascii: "\""))
            return
        }
        let n = bytes.count
        var extra = 0
        var i = 0
        while i < n {
            if i + 8 <= n, !hasSpecial(UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)) { i += 8; continue }
            let b = src[i]
            if b < 0x20 || b == 0x22 || b == 0x5C { extra += escapeLength(b) - 1 }
            i += 1
        }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: n + extra + 2))
        out.withUnsafeMutableBufferPointer { buffer in
            guard let dst = buffer.baseAddress.map({ $0 + start }) else { return }
            dst[0] = UInt8(ascii: "\"")
            var j = 1
            if extra == 0 {
                (dst + 1).update(from: src, count: n)
                j += n
            } else {
                var i = 0
                while i < n {
                    if i + 8 <= n {
                        let v = UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)
                        if !hasSpecial(v) {
                            UnsafeMutableRawPointer(dst + j).storeBytes(of: v, as: UInt64.self)
                            i += 8; j += 8
                            continue
                        }
                    }
                    let b = src[i]
                    i += 1
                    guard b < 0x20 || b == 0x22 || b == 0x5C else { dst[j] = b; j += 1; continue }
                    dst[j] = UInt8(ascii: "\\")
                    switch b {
                    case 0x22: dst[j + 1] = 0x22
                    case 0x5C: dst[j + 1] = 0x5C
                    case 0x0A: dst[j + 1] = UInt8(ascii: "n")
                    case 0x0D: dst[j + 1] = UInt8(ascii: "r")
                    case 0x09: dst[j + 1] = UInt8(ascii: "t")
                    case 0x08: dst[j + 1] = UInt8(ascii: "b")
                    case 0x0C: dst[j + 1] = UInt8(ascii: "f")
                    default:
                        dst[j + 1] = UInt8(ascii: "u"); dst[j + 2] = UInt8(ascii: "0"); dst[j + 3] = UInt8(ascii: "0")
                        dst[j + 4] = hexDigit(b >> 4); dst[j + 5] = hexDigit(b & 0xF)
                    }
                    j += escapeLength(b)
                }
            }
            dst[j] = UInt8(ascii: "\"")
        }
    }

    /// Whether any of the 8 bytes of `x` is `"`, `\\` or a control character (exact, with the classic "has a zero
    /// byte" / "has a byte less than n" word tricks; plain integer code, unlike SIMD types, which are slow here).
    @inline(__always)
    static func hasSpecial(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let control = (x &- ones &* 0x20) & ~x & highs
        let q = x ^ (ones &* 0x22), quote = (q &- ones) & ~q & highs
        let b = x ^ (ones &* 0x5C), backslash = (b &- ones) & ~b & highs
        return (control | quote | backslash) != 0
    }

    /// Bytes the escaped form of `b` takes (`b` needs escaping).
    @inline(__always)
    static func escapeLength(_ b: UInt8) -> Int {
        switch b {
        case 0x22, 0x5C, 0x0A, 0x0D, 0x09, 0x08, 0x0C: 2
        default: 6
        }
    }

    /// A JSON string literal of valid UTF-8 bytes (escaping as `writeString`).
    mutating func writeString(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        Self.appendEscaped(bytes, to: &out)
    }

    /// `,"key":` — a member after the first of a compact object.
    mutating func member(_ key: String) {
        out.append(UInt8(ascii: ","))
        writeString(key)
        out.append(UInt8(ascii: ":"))
    }

    @inline(__always)
    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? UInt8(ascii: "0") + v : UInt8(ascii: "a") + v - 10 }
}

extension JSONValue {
    /// Appends `s` as a JSON string literal to `out`: the same bytes `JSONValue.string(s).serializedBytes()`
    /// produces, without building a value (for writers that assemble JSON text piece by piece).
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { JSONWriter.appendEscaped($0, to: &out) }
    }

    /// `appendString` for text already held as bytes; `utf8` must be valid UTF-8.
    public static func appendString(utf8: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        JSONWriter.appendEscaped(utf8, to: &out)
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text (readable test failures and log lines).
    public var description: String { serialized() }
}

extension JSONObject: CustomStringConvertible {
    public var description: String { serialized() }
}
