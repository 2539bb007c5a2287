/// A predicate that cannot be parsed or planned, pointing at the column (1-based, in characters) where it fails.
///
/// `description` is what the CLI prints: the message, then the predicate and a caret under the column, e.g.
/// ```
/// predicate: expected a value after '==' at column 24
///   response_status_code ==
///                          ^
/// ```
public struct PredicateError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    /// 1-based character column; `source.count + 1` means "at the end".
    public let column: Int
    public let source: String

    public init(_ message: String, column: Int, source: String) {
        self.message = message
        self.column = column
        self.source = source
    }

    public var description: String {
        // The caret lines up on a terminal: wide (East-Asian) characters take two cells, tabs are shown as spaces.
        let shown = source.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : String($0) }.joined()
        let before = String(source.prefix(max(0, column - 1)))
        let pad = String(repeating: " ", count: DisplayWidth.of(before))
        return "predicate: \(message) at column \(column)\n  \(shown)\n  \(pad)^"
    }
}
