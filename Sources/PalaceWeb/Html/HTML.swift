/// Escaping for server-rendered HTML. Every value that came from a request, the log or the index goes through
/// `HTML.text` (element content) or `HTML.attr` (attribute values, always double-quoted by the caller).
enum HTML {
    static func text(_ s: some StringProtocol) -> String { escape(s, quotes: false) }

    static func attr(_ s: some StringProtocol) -> String { escape(s, quotes: true) }

    /// `&`, `<`, `>` (and with `quotes` both quote characters) as entities; NUL, which HTML forbids, as U+FFFD.
    private static func escape(_ s: some StringProtocol, quotes: Bool) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"" where quotes: out += "&quot;"
            case "'" where quotes: out += "&#39;"
            case "\0": out += "\u{FFFD}"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Percent-encodes a query-string component (RFC 3986 unreserved characters kept).
    static func queryComponent(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                 UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%" + hex2(b)
            }
        }
        return out
    }

    static func hex2(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String(digits[Int(b >> 4)]) + String(digits[Int(b & 15)])
    }

    /// `a=1&b=2` from ordered pairs, empty values left out.
    static func query(_ pairs: [(String, String)]) -> String {
        pairs.filter { !$0.1.isEmpty }.map { queryComponent($0.0) + "=" + queryComponent($0.1) }.joined(separator: "&")
    }
}
