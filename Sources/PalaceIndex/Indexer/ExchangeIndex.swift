import CSQLite
import PalaceLog
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The SQLite side index of one data directory: opens (or repairs) the file, catches up with the log, and
/// answers queries (see `Query/`).
///
/// Invariants:
/// - The index is derived data: a missing, damaged or newer-schema file, or one that is ahead of its log (the log
///   was restored from an older backup), is rebuilt from the log with a one-line `notice`.
/// - One `ExchangeIndex` is used by one task at a time; several processes may each have one on the same file
///   (WAL + busy timeout: readers never see "database is locked", catch-ups serialize).
public final class ExchangeIndex: @unchecked Sendable {
    public let indexPath: String
    public let logDirectory: String
    let db: SQLiteConnection
    let reader: LogReader
    let updater: IndexUpdater
    let notice: @Sendable (String) -> Void
    lazy var residual: ResidualCheck? = try? ResidualCheck(db: db)
    /// Records per commit (and progress call) of a rebuild's build file.
    var rebuildBatchRecords = 100_000

    /// Opens the index at `indexPath` for the log in `logDirectory`, creating or repairing it as needed.
    public init(indexPath: String, logDirectory: String, notice: @escaping @Sendable (String) -> Void = { _ in }) throws {
        self.indexPath = indexPath
        self.logDirectory = logDirectory
        self.notice = notice
        do { reader = try LogReader(directory: logDirectory) } catch { throw IndexError.log(error.description) }
        let existed = access(indexPath, F_OK) == 0
        var conn: SQLiteConnection
        do {
            conn = try Self.openChecked(indexPath)
        } catch let e as SQLiteError where e.isCorruption {
            notice("index \(indexPath) is damaged (\(e.message)); rebuilding it from the log")
            Self.removeFiles(indexPath)
            conn = try Self.openChecked(indexPath)
        } catch let e as IndexError {
            switch e {
            case .newerSchema:
                notice("index \(indexPath) was written by a newer moonpalace; rebuilding it from the log")
            case .olderSchema(let found, _):
                // The index is derived data: an older layout is rebuilt from the log, not migrated in place.
                notice("index \(indexPath) has the older layout v\(found); rebuilding it from the log")
            default:
                throw e
            }
            Self.removeFiles(indexPath)
            conn = try Self.openChecked(indexPath)
        }
        if !existed, reader.hasSegments { notice("index \(indexPath) is missing; building it from the log") }
        Self.removeAbandonedRebuild(indexPath)
        db = conn
        updater = IndexUpdater(db: conn, reader: reader)
    }

    public convenience init(dataDirectory: DataDirectory, notice: @escaping @Sendable (String) -> Void = { _ in }) throws {
        try self.init(indexPath: dataDirectory.indexPath, logDirectory: dataDirectory.logDirectory, notice: notice)
    }

    /// Opens the index, set up and at the current layout. Two connections of one process may set up a NEW file at
    /// the same moment (`start`'s tailer and its web admin): the one that loses gets SQLITE_BUSY at once, from a lock
    /// upgrade SQLite refuses rather than waits for (busy_timeout does not apply). It starts again after a short
    /// pause, for up to about 5 s: by then the other connection has finished setting the file up.
    static func openChecked(_ path: String) throws -> SQLiteConnection {
        var attempts = 0
        while true {
            do {
                return try openOnce(path)
            } catch let e as SQLiteError where e.code & 0xFF == SQLITE_BUSY && attempts < 250 {
                attempts += 1
                usleep(20_000)
            }
        }
    }

    private static func openOnce(_ path: String) throws -> SQLiteConnection {
        let c = try SQLiteConnection(path: path)
        // Free pages (left by a rebuild, cleanup or FTS merges) are given back with `incremental_vacuum`. Only
        // takes effect on a new, empty file, so it must come before WAL mode writes the header.
        try c.execute("PRAGMA auto_vacuum = INCREMENTAL")
        try c.configureForIndex()
        _ = try c.scalar("SELECT count(*) FROM sqlite_master")
        try IndexSchema.migrate(c)
        return c
    }

    static func removeFiles(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }

    /// Brings the index up to the end of the log. Rebuilds first when the index is ahead of the log.
    @discardableResult
    public func catchUp(progress: ((Int, UInt64) -> Void)? = nil) throws -> CatchUpReport {
        if let why = try aheadOfLog() {
            notice("index is ahead of the log (\(why)); rebuilding it from the log")
            return try rebuild(progress: progress)
        }
        let report: CatchUpReport
        do {
            report = try updater.catchUp(progress: progress)
        } catch IndexError.interruptedRebuild(let why) {
            notice("an index rebuild was interrupted (\(why)); rebuilding it from the log")
            return try rebuild(progress: progress)
        }
        if LogLiveness.writerPID(logDirectory) == nil { try markInFlightAsIncomplete() }
        return report
    }

    /// Nil when the last record the index read is still in the log; otherwise why not.
    func aheadOfLog() throws -> String? {
        try sweepRemovedSegments()   // segments removed by retention: behind the log, not ahead (RetentionSweep)
        guard let fp = try IndexMeta.fingerprint(db) else { return nil }
        guard let r = try? reader.read(at: fp.position) else { return "record \(fp.sequence) is gone" }
        if r.sequence != fp.sequence || r.timestamp != fp.timestamp { return "record \(fp.sequence) differs" }
        return nil
    }

    /// Rows still open when no writer is alive can never end: they are incomplete, not in flight. `start` calls
    /// this before it accepts traffic, for rows left by an earlier run.
    public func markInFlightAsIncomplete() throws {
        try db.run("UPDATE exchanges SET state_code = \(ExchangeRow.stateIncomplete) WHERE state_code = \(ExchangeRow.stateInFlight)")
    }

    /// Current watermark (next log sequence to read).
    public func watermark() throws -> UInt64 { try IndexMeta.watermark(db) }

    /// Loads an exchange's records from the log.
    func load(id: Int64) throws -> LoadedExchange? {
        let rows = try db.query("SELECT begin_segment, begin_offset, positions FROM exchanges WHERE id = ?", [.integer(id)])
        guard let r = rows.first else { return nil }
        let begin = RecordPosition(segment: UInt64(bitPattern: r[0].int64 ?? 0), offset: UInt64(bitPattern: r[1].int64 ?? 0))
        let positions: [RecordPosition]
        if case .blob(let b) = r[2] { positions = PositionList.decode(b, begin: begin) } else { positions = [] }
        return try ExchangeLoader(reader: reader).load(id: id, begin: begin, positions: positions)
    }
}

extension LogReader {
    var hasSegments: Bool { ((try? segments()) ?? []).isEmpty == false }
}

/// Whether a writer (`moonpalace start`, or a command writing tombstones) holds the log's lock right now.
public enum LogLiveness {
    /// The pid holding the flock on `<log>/LOCK`, found in `/proc/locks` by the file's inode (the lock itself is
    /// never probed: taking even a shared lock could make a starting writer fail). Nil when nobody holds it.
    public static func writerPID(_ logDirectory: String) -> Int32? {
        var st = stat()
        guard stat(logDirectory + "/LOCK", &st) == 0 else { return nil }
        guard let f = fopen("/proc/locks", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 512)
        let inode = String(UInt64(st.st_ino))
        while fgets(&line, 512, f) != nil {
            let fields = String(cString: line).split(separator: " ", omittingEmptySubsequences: true)
            // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
            guard fields.count >= 6, fields[1] == "FLOCK", fields[3] == "WRITE",
                  fields[5].split(separator: ":").last.map(String.init) == inode else { continue }
            return Int32(fields[4])
        }
        return nil
    }
}

