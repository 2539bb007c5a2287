import CSQLite

/// A failure reported by SQLite, with the statement text when there is one, so a person can tell what went wrong.
public struct SQLiteError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The primary result code (`SQLITE_BUSY`, `SQLITE_CORRUPT`, …).
    public let code: Int32
    public let message: String
    public let sql: String?

    public init(code: Int32, message: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    /// True when the database file is damaged or not a database at all: the index should be rebuilt.
    public var isCorruption: Bool { code & 0xff == SQLITE_CORRUPT || code & 0xff == SQLITE_NOTADB }
    public var isBusy: Bool { code & 0xff == SQLITE_BUSY || code & 0xff == SQLITE_LOCKED }

    public var description: String {
        if let sql { return "sqlite: \(message) (code \(code)) in: \(sql.prefix(200))" }
        return "sqlite: \(message) (code \(code))"
    }
}
