/// Writing JSON text directly, for the hot path (generating responses without building a tree first).
///
/// Invariant: `appendEscaped` produces a valid JSON string body for any Swift string: `"` `\` and control
/// characters are escaped, everything else (UTF-8 included) is copied as is, like the real API does.
enum JSONText {
    static func quoted(_ text: String) -> String {
        var out = "\""
        appendEscaped(text, to: &out)
        out += "\""
        return out
    }

    static func appendQuoted(_ text: String, to out: inout String) {
        out += "\""
        appendEscaped(text, to: &out)
        out += "\""
    }

    static func appendEscaped(_ text: String, to out: inout String) {
        var needsEscape = false
        for byte in text.utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C {
            needsEscape = true
            break
        }
        guard needsEscape else {
            out += text
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
    }
}
