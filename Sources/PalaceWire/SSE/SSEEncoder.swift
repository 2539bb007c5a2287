/// Writes server-sent events in the form Moonshot/OpenAI servers send them (`data: …` then a blank line, `\n`
/// line ends). Whatever is encoded parses back with `SSEParser` to the same `event`, `data` and `id`.
public enum SSEEncoder {
    /// `data: [DONE]` followed by its blank line.
    public static let done: [UInt8] = Array("data: [DONE]\n\n".utf8)

    /// One event. Line breaks inside `data` (`\n`, `\r\n`, `\r`) become separate `data:` lines, which the parser
    /// joins back with `\n`. `event` and `id` must not contain line breaks (they would be cut at the first one).
    public static func encode(data: String, event: String? = nil, id: String? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.utf8.count + 16)
        if let event { field("event", firstLine(event), into: &out) }
        if let id { field("id", firstLine(id), into: &out) }
        var line: [UInt8] = []
        var previousWasCR = false
        for b in data.utf8 {
            if b == 0x0A && previousWasCR { previousWasCR = false; continue }
            previousWasCR = b == 0x0D
            if b == 0x0A || b == 0x0D {
                field("data", line, into: &out)
                line.removeAll(keepingCapacity: true)
            } else {
                line.append(b)
            }
        }
        field("data", line, into: &out)
        out.append(0x0A)
        return out
    }

    /// One event whose data is the compact JSON of `json` (compact JSON never contains a raw line break).
    public static func encode(json: JSONValue, event: String? = nil) -> [UInt8] {
        var out: [UInt8] = []
        if let event { field("event", firstLine(event), into: &out) }
        out.append(contentsOf: "data: ".utf8)
        out.append(contentsOf: json.serializedBytes())
        out.append(contentsOf: [0x0A, 0x0A])
        return out
    }

    /// A comment line (`: text`), e.g. a keep-alive; clients ignore it. Line breaks in `text` are cut.
    public static func comment(_ text: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: ":"), UInt8(ascii: " ")]
        out.append(contentsOf: firstLine(text))
        out.append(contentsOf: [0x0A, 0x0A])
        return out
    }

    private static func field(_ name: StaticString, _ value: some Sequence<UInt8>, into out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        out.append(UInt8(ascii: ":"))
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: value)
        out.append(0x0A)
    }

    private static func firstLine(_ s: String) -> [UInt8] {
        Array(s.utf8.prefix { $0 != 0x0A && $0 != 0x0D })
    }
}
