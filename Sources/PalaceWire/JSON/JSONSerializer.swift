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
        var s = s
        out.append(UInt8(ascii: "\""))
        s.withUTF8 { bytes in
            var runStart = 0
            for i in 0..<bytes.count {
                let b = bytes[i]
                guard b < 0x20 || b == 0x22 || b == 0x5C else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
                runStart = i + 1
                switch b {
                case 0x22: append("\\\"")
                case 0x5C: append("\\\\")
                case 0x0A: append("\\n")
                case 0x0D: append("\\r")
                case 0x09: append("\\t")
                case 0x08: append("\\b")
                case 0x0C: append("\\f")
                default:
                    append("\\u00")
                    out.append(hexDigit(b >> 4))
                    out.append(hexDigit(b & 0xF))
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
        out.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? UInt8(ascii: "0") + v : UInt8(ascii: "a") + v - 10 }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text (readable test failures and log lines).
    public var description: String { serialized() }
}

extension JSONObject: CustomStringConvertible {
    public var description: String { serialized() }
}
