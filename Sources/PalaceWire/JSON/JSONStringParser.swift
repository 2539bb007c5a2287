extension JSONParser {
    /// Parses a string starting at the opening quote. Fast path: a run without escapes is validated and
    /// converted in one go; escapes fall back to building the UTF-8 bytes.
    mutating func parseString() throws(JSONError) -> String {
        let start = pos
        pos += 1  // opening quote
        var runStart = pos
        var scratch: [UInt8] = []
        var escaped = false
        while true {
            guard pos < bytes.count else { throw JSONError(.unexpectedEnd, at: pos, "unterminated string starting at byte \(start)") }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                let run = UnsafeBufferPointer(rebasing: bytes[runStart..<pos])
                pos += 1
                if !escaped { return try makeString(run, at: start) }
                scratch.append(contentsOf: run)
                return try scratch.withUnsafeBufferPointer { buffer throws(JSONError) in try makeString(buffer, at: start) }
            }
            if b == UInt8(ascii: "\\") {
                if !escaped { escaped = true; scratch.reserveCapacity(pos - runStart + 16) }
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<pos]))
                try parseEscape(into: &scratch)
                runStart = pos
                continue
            }
            if b < 0x20 { throw JSONError(.controlCharacterInString, at: pos) }
            pos += 1
        }
    }

    /// Converts validated UTF-8 to a String; ASCII-only runs skip validation.
    private func makeString(_ utf8: UnsafeBufferPointer<UInt8>, at start: Int) throws(JSONError) -> String {
        var ascii = true
        for b in utf8 where b >= 0x80 { ascii = false; break }
        if ascii { return String(decoding: utf8, as: UTF8.self) }
        guard let s = String(validating: utf8, as: UTF8.self) else {
            throw JSONError(.invalidUTF8, at: start, "string starting at this byte")
        }
        return s
    }

    /// Decodes one escape at `pos` (the backslash) and appends its UTF-8 bytes.
    private mutating func parseEscape(into out: inout [UInt8]) throws(JSONError) {
        let escapeStart = pos
        pos += 1
        guard pos < bytes.count else { throw JSONError(.unexpectedEnd, at: pos, "in an escape") }
        let c = bytes[pos]
        pos += 1
        switch c {
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "/"): out.append(0x2F)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try parseHex4()
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate must be followed by `\uDC00`–`\uDFFF` to form one scalar.
                if bytes.count - pos >= 6, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                    let save = pos
                    pos += 2
                    let low = try parseHex4()
                    if (0xDC00...0xDFFF).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        pos = save
                        scalar = 0xFFFD
                    }
                } else {
                    scalar = 0xFFFD
                }
            } else if (0xDC00...0xDFFF).contains(scalar) {
                scalar = 0xFFFD
            }
            let unicodeScalar = Unicode.Scalar(scalar) ?? "\u{FFFD}"
            out.append(contentsOf: UTF8.encode(unicodeScalar)!)
        default:
            throw JSONError(.invalidEscape, at: escapeStart, "'\\\(describe(c))' is not a JSON escape")
        }
    }

    private mutating func parseHex4() throws(JSONError) -> UInt32 {
        guard bytes.count - pos >= 4 else { throw JSONError(.unexpectedEnd, at: bytes.count, "in a \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[pos]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw JSONError(.invalidEscape, at: pos, "expected a hex digit in a \\u escape")
            }
            value = value << 4 | UInt32(digit)
            pos += 1
        }
        return value
    }
}
