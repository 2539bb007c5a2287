/// A JSON syntax error, pointing at the byte where parsing stopped.
///
/// `offset` is a zero-based byte offset into the parsed input (UTF-8 bytes, not characters), so a caller can
/// show the surrounding bytes of a stored body.
public struct JSONError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for callers that branch on it; `description` is the message for people.
    public enum Kind: Sendable, Hashable {
        case unexpectedEnd
        case unexpectedByte
        case invalidNumber
        case invalidEscape
        case invalidUTF8
        case controlCharacterInString
        case tooDeep(limit: Int)
        case trailingData
    }

    public let kind: Kind
    /// Byte offset (0-based) in the input where the error was detected.
    public let offset: Int
    /// Extra detail (e.g. which byte was expected).
    public let detail: String

    public init(_ kind: Kind, at offset: Int, _ detail: String = "") {
        self.kind = kind
        self.offset = offset
        self.detail = detail
    }

    public var description: String {
        let what: String
        switch kind {
        case .unexpectedEnd: what = "unexpected end of input"
        case .unexpectedByte: what = "unexpected byte"
        case .invalidNumber: what = "invalid number"
        case .invalidEscape: what = "invalid escape sequence"
        case .invalidUTF8: what = "invalid UTF-8 in string"
        case .controlCharacterInString: what = "unescaped control character in string"
        case .tooDeep(let limit): what = "nesting deeper than \(limit) levels"
        case .trailingData: what = "unexpected data after the JSON value"
        }
        let extra = detail.isEmpty ? "" : " (\(detail))"
        return "JSON: \(what)\(extra) at byte \(offset)"
    }
}
