import CPalaceFTS
import CSQLite

/// One SQLite connection through the C API: WAL journal, a busy timeout so readers and the one writer never see
/// "database is locked", a statement cache, and batched transactions.
///
/// Invariant: a connection is confined to one task/thread at a time (SQLite is built multi-thread here, not
/// serialized); share the file, not the connection. `@unchecked Sendable` only so a connection can move between
/// tasks (e.g. into the tailer task) — never use it from two at once.
public final class SQLiteConnection: @unchecked Sendable {
    nonisolated(unsafe) let handle: OpaquePointer
    public let path: String
    private var cache: [String: SQLiteStatement] = [:]

    /// `palace_sqlite_configure` before the first connection of the process.
    private static let configured: Int32 = palace_sqlite_configure()

    /// Opens (creating if asked) the database at `path`. `readOnly` opens without write access.
    public init(path: String, readOnly: Bool = false, create: Bool = true, busyTimeoutMs: Int32 = 10_000) throws {
        _ = Self.configured
        var db: OpaquePointer?
        var flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        flags |= SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: "\(msg): \(path)")
        }
        handle = db
        self.path = path
        sqlite3_busy_timeout(db, busyTimeoutMs)
        sqlite3_extended_result_codes(db, 1)
        RegexpFunction.register(on: db)
        SkeletonFunctions.register(on: db)
        let frc = palace_fts_register(db)
        guard frc == SQLITE_OK else {
            sqlite3_close_v2(db)
            throw SQLiteError(code: frc, message: "cannot register the full-text tokenizer: \(path)")
        }
    }

    deinit {
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Switches to WAL with NORMAL sync (the index is derived data: losing the last transaction on power loss is
    /// repaired by the next catch-up from the log watermark).
    public func configureForIndex() throws {
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=NORMAL")
        try execute("PRAGMA temp_store=MEMORY")
        try execute("PRAGMA cache_size=-32768")
    }

    func error(_ rc: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs one or more statements without parameters (schema, pragmas).
    public func execute(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? "error"
            sqlite3_free(err)
            throw SQLiteError(code: rc, message: msg, sql: sql)
        }
    }

    /// A prepared statement, reused across calls with the same SQL text (bind resets it).
    public func prepare(_ sql: String) throws -> SQLiteStatement {
        if let s = cache[sql] { s.reset(); return s }
        let s = try prepareUncached(sql)
        if cache.count > 200 { cache.removeAll() }
        cache[sql] = s
        return s
    }

    /// A statement outside the cache (for one-off dynamic SQL such as compiled predicates).
    public func prepareUncached(_ sql: String) throws -> SQLiteStatement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, sql: sql) }
        return SQLiteStatement(handle: stmt, sql: sql, connection: self)
    }

    /// Convenience: run with bound values.
    public func run(_ sql: String, _ values: [SQLiteValue] = []) throws {
        try prepare(sql).run(values)
    }

    /// Rows of a query with bound values.
    public func query(_ sql: String, _ values: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
        try prepare(sql).rows(values)
    }

    /// The first column of the first row, or nil.
    public func scalar(_ sql: String, _ values: [SQLiteValue] = []) throws -> SQLiteValue? {
        let s = try prepare(sql)
        try s.bind(values)
        defer { s.reset() }
        return try s.step() ? s.value(at: 0) : nil
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT` (rolled back when it throws). IMMEDIATE takes the write lock
    /// up front, so a writer waits in busy_timeout instead of failing on lock upgrade.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let r = try body()
            try execute("COMMIT")
            return r
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// A read snapshot: everything inside sees one consistent state of the WAL.
    public func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        defer { try? execute("COMMIT") }
        return try body()
    }

    public var changes: Int { Int(sqlite3_changes(handle)) }
}
