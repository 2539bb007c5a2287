import PalaceLog
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `moonpalace index status` reports.
public struct IndexStatus: Sendable {
    public var indexPath: String
    public var schemaVersion: Int
    public var exchanges: Int
    public var inFlight: Int
    public var incomplete: Int
    /// Next log sequence the index will read.
    public var watermark: UInt64
    /// One past the last record in the log.
    public var logNextSequence: UInt64
    /// Bytes of the SQLite file (+ WAL), and the share of it taken by the full-text table.
    public var indexBytes: Int64
    public var ftsBytes: Int64
    public var logBytes: Int64
    public var writerPID: Int32?

    public var lagRecords: UInt64 { logNextSequence > watermark ? logNextSequence - watermark : 0 }
}

extension ExchangeIndex {
    /// Counts, sizes and how far behind the log the index is. Does not catch up.
    public func status() throws -> IndexStatus {
        let counts = try db.query("""
            SELECT count(*), sum(state = 'in_flight'), sum(state = 'incomplete') FROM exchanges
            """)[0]
        return IndexStatus(
            indexPath: indexPath,
            schemaVersion: Int(try db.scalar("PRAGMA user_version")?.int64 ?? 0),
            exchanges: Int(counts[0].int64 ?? 0), inFlight: Int(counts[1].int64 ?? 0),
            incomplete: Int(counts[2].int64 ?? 0),
            watermark: try watermark(), logNextSequence: reader.nextSequence,
            indexBytes: Self.fileSize(indexPath) + Self.fileSize(indexPath + "-wal"),
            ftsBytes: try ftsBytes(), logBytes: Self.directorySize(logDirectory),
            writerPID: LogLiveness.writerPID(logDirectory))
    }

    /// Pages used by the FTS5 shadow tables (needs the dbstat table; 0 when SQLite lacks it).
    func ftsBytes() throws -> Int64 {
        (try? db.scalar("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'exchange_text%'")?.int64) ?? 0
    }

    static func fileSize(_ path: String) -> Int64 {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : 0
    }

    static func directorySize(_ dir: String) -> Int64 {
        guard let d = opendir(dir) else { return 0 }
        defer { closedir(d) }
        var total: Int64 = 0
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name == "." || name == ".." { continue }
            total += fileSize(dir + "/" + name)
        }
        return total
    }

    /// Rewrites the index file without free pages (after cleanup).
    public func vacuum() throws {
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try db.execute("VACUUM")
    }
}
