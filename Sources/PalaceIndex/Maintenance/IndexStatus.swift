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
            SELECT (SELECT count(*) FROM exchanges),
                   (SELECT count(*) FROM exchanges WHERE state_code = \(ExchangeRow.stateInFlight)),
                   (SELECT count(*) FROM exchanges WHERE state_code = \(ExchangeRow.stateIncomplete))
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

extension ExchangeIndex {
    /// What `index compact` did to the log.
    public struct LogCompactReport: Sendable {
        public var tombstoned = 0
        public var segmentsRewritten = 0
        public var recordsDropped = 0
        public var bytesReclaimed: UInt64 = 0
    }

    /// Rewrites the log's sealed segments without the records of tombstoned exchanges (the tombstones themselves
    /// stay: records of those exchanges may still sit in the active segment), then rebuilds the index (record
    /// positions changed) and gives its free pages back. The caller must hold the log's writer lock (so no
    /// `start` appends or reads positions meanwhile).
    public func compactLog(progress: ((Int, UInt64) -> Void)? = nil) throws -> LogCompactReport {
        var tombstoned = Set<UInt64>()
        let it = reader.records()
        while let r = it.next() {
            if case .tombstone(let t) = r.record { tombstoned.formUnion(t.exchangeIDs) }
        }
        var report = LogCompactReport(tombstoned: tombstoned.count)
        if !tombstoned.isEmpty {
            let result: LogCompaction.Result
            do {
                result = try LogCompaction.compact(directory: logDirectory) { r in
                    switch r.record {
                    case .begin(let b): return !tombstoned.contains(b.exchangeID)
                    case .chunk(let c): return !tombstoned.contains(c.exchangeID)
                    case .end(let e): return !tombstoned.contains(e.exchangeID)
                    case .annotation(let a): return !tombstoned.contains(a.exchangeID)
                    case .tombstone: return true
                    }
                }
            } catch { throw IndexError.log(error.description) }
            report.segmentsRewritten = result.segmentsRewritten
            report.recordsDropped = result.recordsDropped
            report.bytesReclaimed = result.bytesReclaimed
        }
        try rebuild(progress: progress)
        try vacuum()
        return report
    }
}
