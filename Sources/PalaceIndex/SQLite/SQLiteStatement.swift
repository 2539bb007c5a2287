import CSQLite
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `SQLITE_TRANSIENT` does not import into Swift: SQLite copies the bytes before the bind call returns.
let sqliteTransient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

/// A prepared statement. Values are always bound as parameters (`?`), never pasted into the SQL text.
///
/// Invariant: used by one thread at a time, and only while its connection is open (the connection owns it).
public final class SQLiteStatement {
    let handle: OpaquePointer
    let sql: String
    unowned let connection: SQLiteConnection

    init(handle: OpaquePointer, sql: String, connection: SQLiteConnection) {
        self.handle = handle
        self.sql = sql
        self.connection = connection
    }

    deinit { sqlite3_finalize(handle) }

    /// Binds `values` to parameters 1…n after clearing earlier bindings and resetting the statement.
    public func bind(_ values: [SQLiteValue]) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (i, v) in values.enumerated() { try bind(v, at: Int32(i + 1)) }
    }

    public func bind(_ value: SQLiteValue, at index: Int32) throws {
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(handle, index)
        case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
        case .real(let d): rc = sqlite3_bind_double(handle, index, d)
        case .text(var s):
            // The UTF-8 bytes up to the first NUL (what binding the C string with length -1 gave), without the
            // C-string copy a small (inline) string needs.
            rc = s.withUTF8 { u -> Int32 in
                guard let base = u.baseAddress, !u.isEmpty else { return sqlite3_bind_text(handle, index, "", 0, sqliteTransient) }
                let n = memchr(base, 0, u.count).map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? u.count
                return UnsafeRawPointer(base).withMemoryRebound(to: CChar.self, capacity: n) {
                    sqlite3_bind_text(handle, index, $0, Int32(n), sqliteTransient)
                }
            }
        case .blob(let b):
            rc = b.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), sqliteTransient) }
        }
        guard rc == SQLITE_OK else { throw connection.error(rc, sql: sql) }
    }

    /// Advances to the next row; false when done. Retries are left to `busy_timeout`.
    @discardableResult
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let err = connection.error(rc, sql: sql)
        sqlite3_reset(handle)
        throw err
    }

    /// Runs the statement to completion with `values` bound (for INSERT/UPDATE/DELETE).
    public func run(_ values: [SQLiteValue] = []) throws {
        try bind(values)
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Every row as an array of values.
    public func rows(_ values: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
        try bind(values)
        var out: [[SQLiteValue]] = []
        while try step() { out.append((0..<columnCount).map { value(at: $0) }) }
        sqlite3_reset(handle)
        return out
    }

    public var columnCount: Int32 { sqlite3_column_count(handle) }

    /// Number of parameters (the largest index).
    var parameterCount: Int32 { sqlite3_bind_parameter_count(handle) }

    /// `:name` of parameter `i` (1-based), nil for a plain `?`.
    func parameterName(_ i: Int32) -> String? { sqlite3_bind_parameter_name(handle, i).map { String(cString: $0) } }

    public func columnName(_ i: Int32) -> String { String(cString: sqlite3_column_name(handle, i)) }

    public func value(at i: Int32) -> SQLiteValue {
        switch sqlite3_column_type(handle, i) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, i))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, i))
        case SQLITE_TEXT: return .text(text(at: i) ?? "")
        case SQLITE_BLOB:
            let n = Int(sqlite3_column_bytes(handle, i))
            guard n > 0, let p = sqlite3_column_blob(handle, i) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: p, count: n)))
        default: return .null
        }
    }

    public func int64(at i: Int32) -> Int64? {
        sqlite3_column_type(handle, i) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, i)
    }
    public func double(at i: Int32) -> Double? {
        sqlite3_column_type(handle, i) == SQLITE_NULL ? nil : sqlite3_column_double(handle, i)
    }
    public func text(at i: Int32) -> String? {
        guard let p = sqlite3_column_text(handle, i) else { return nil }
        let n = Int(sqlite3_column_bytes(handle, i))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    public func reset() { sqlite3_reset(handle) }

    /// Runs a two-parameter statement (`rowid`, UTF-8 `text`) without copying the text: it is bound
    /// SQLITE_STATIC for the one step and unbound before the buffer goes away.
    func run(rowid: Int64, text: [UInt8]) throws {
        sqlite3_reset(handle)
        sqlite3_bind_int64(handle, 1, rowid)
        let rc = text.withUnsafeBufferPointer { p -> Int32 in
            let r = p.baseAddress.map { base in
                base.withMemoryRebound(to: CChar.self, capacity: p.count) {
                    sqlite3_bind_text(handle, 2, $0, Int32(p.count), nil)
                }
            } ?? sqlite3_bind_text(handle, 2, "", 0, nil)
            guard r == SQLITE_OK else { return r }
            let step = sqlite3_step(handle)
            sqlite3_reset(handle)
            sqlite3_bind_null(handle, 2)
            return step == SQLITE_DONE || step == SQLITE_ROW ? SQLITE_OK : step
        }
        guard rc == SQLITE_OK else { throw connection.error(rc, sql: sql) }
    }
}
