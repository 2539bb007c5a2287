import CSQLite
import PalaceLog
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `index rebuild`: the whole index built again from the log in files of its own, then copied over the live
/// index in one transaction.
///
/// Invariants:
/// - The live index is not touched until the new one is complete: it keeps answering (and other connections keep
///   catching it up) while the rebuild runs. The new contents replace it through SQLite's backup API, one write
///   transaction in the live file's WAL: a crash before its commit leaves the old index as it was, a crash after
///   it the new one — never a half-built index. Other connections see the new contents at their next read (the
///   schema cookie changes; FTS5 re-reads its structure when the data version changes).
/// - The build files (`<index>-rebuild`, `<index>-fulltext-rebuild`) are written without a journal or fsync (a
///   crash leaves them behind, and nothing reads them but the rebuild that wrote them); they are removed at its
///   end, and one left by a process that died is removed by the next `ExchangeIndex` opened on the file.
/// - One rebuild at a time per index: it holds an exclusive `flock` on `<index>-rebuild.lock` (removed at its end).
extension ExchangeIndex {
    static func buildPath(_ indexPath: String) -> String { indexPath + "-rebuild" }
    static func fullTextBuildPath(_ indexPath: String) -> String { indexPath + "-fulltext-rebuild" }

    /// Reads the whole log again into new files, as a bulk load on three threads (log reader, row writer,
    /// full-text writer; see `IndexUpdater.bulkLoad`), with secondary indexes created after the rows and the full
    /// text copied in at the end; then replaces the live index's contents with the result.
    @discardableResult
    public func rebuild(progress: ((Int, UInt64) -> Void)? = nil) throws -> CatchUpReport {
        RebuildTrace.mark("start")
        // A rebuild by an older moonpalace marks the live file instead of taking the lock.
        if case .running(let who) = try RebuildMarker.state(db) { throw IndexError.rebuildRunning(who) }
        guard let lock = RebuildLock(indexPath: indexPath) else {
            throw IndexError.rebuildRunning("see \(RebuildLock.path(indexPath))")
        }
        defer { lock.release() }
        let buildPath = Self.buildPath(indexPath), ftsPath = Self.fullTextBuildPath(indexPath)
        defer { Self.removeFiles(buildPath); Self.removeFiles(ftsPath) }
        let build = try Self.createBuildFile(buildPath, pageSize: try db.scalar("PRAGMA page_size")?.int64 ?? 4096)
        let loader = IndexUpdater(db: build, reader: reader)
        loader.batchRecords = rebuildBatchRecords
        let fullText = try FullTextBuilder(path: ftsPath)
        let report = try loader.bulkLoad(fullText: fullText, progress: progress) {
            RebuildTrace.mark("rows written")
            // The full-text thread is usually still busy: the secondary indexes are built meanwhile.
            try build.execute(IndexSchema.secondaryIndexesSQL)
            RebuildTrace.mark("secondary indexes")
        }
        RebuildTrace.mark("full text written")
        try Self.adoptFullText(into: build, from: ftsPath)
        RebuildTrace.mark("full text copied in")
        try replaceContents(with: build)
        updater.open.removeAll()
        updater.committed = nil
        if LogLiveness.writerPID(logDirectory) == nil { try markInFlightAsIncomplete() }
        RebuildTrace.mark("done")
        return report
    }

    /// The finished build file is read through a memory map for the copy over the live index (SQLite caps it at
    /// its compile-time maximum): the copy reads every page once, and without the map each read is a `pread` into
    /// a buffer (measured on a million exchanges: the copy's CPU time 5.0 → 2.1 s).
    static let mmapBytes: Int64 = 4 << 30

    /// A new, empty index file for a rebuild: the live file's page size (the backup API needs the same in WAL
    /// mode), no journal, no fsync, one connection holding it exclusively, no secondary indexes yet.
    static func createBuildFile(_ path: String, pageSize: Int64) throws -> SQLiteConnection {
        removeFiles(path)
        let c = try SQLiteConnection(path: path)
        try c.execute("""
            PRAGMA page_size = \(pageSize); PRAGMA auto_vacuum = INCREMENTAL;
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE;
            PRAGMA temp_store = MEMORY; PRAGMA cache_size = -262144;
            """)
        try c.execute(IndexSchema.createSQL)
        try c.execute(IndexSchema.dropSecondaryIndexesSQL)
        try c.execute("PRAGMA user_version = \(IndexSchema.currentVersion)")
        return c
    }

    /// Replaces the build file's (empty) full-text table contents with those written in `path`. A plain
    /// `INSERT INTO … SELECT *` between tables of the same shape is SQLite's transfer optimization: records are
    /// copied as they are, not decoded and encoded again.
    static func adoptFullText(into build: SQLiteConnection, from path: String) throws {
        try build.run("ATTACH DATABASE ? AS fulltext_build", [.text(path)])
        defer { try? build.execute("DETACH DATABASE fulltext_build") }
        try build.transaction {
            try build.execute("""
                DELETE FROM main.exchange_text_data; DELETE FROM main.exchange_text_idx;
                INSERT INTO main.exchange_text_data SELECT * FROM fulltext_build.exchange_text_data;
                INSERT INTO main.exchange_text_idx SELECT * FROM fulltext_build.exchange_text_idx;
                """)
        }
    }

    /// Copies every page of `build` over the live index in one write transaction (SQLite's backup API), then
    /// checkpoints the WAL into the file. Runs on a connection of its own (see the type's invariants). Without
    /// fsync (`synchronous = OFF`, as the whole rebuild ran before): a process that dies at any point leaves the
    /// old or the new index (the page cache outlives it); only a power loss in the seconds after the copy could
    /// leave a damaged file, which is derived data, rebuilt from the log when SQLite reports it. With fsync the
    /// copy's two gigabytes (WAL, then the file) cost ~6 s of waiting for the disk.
    func replaceContents(with build: SQLiteConnection) throws {
        // Mapped only now: while the file grows, SQLite would remap it again and again (munmap stalls every thread).
        try build.execute("PRAGMA mmap_size = \(Self.mmapBytes)")
        let live = try SQLiteConnection(path: indexPath, create: false)
        try live.execute("PRAGMA synchronous = OFF")
        try build.backup(into: live)
        RebuildTrace.mark("copied over the live index")
        try? live.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        RebuildTrace.mark("checkpoint")
    }

    /// Removes the build files of a rebuild whose process died (nothing else ever reads them).
    static func removeAbandonedRebuild(_ indexPath: String) {
        let paths = [buildPath(indexPath), fullTextBuildPath(indexPath)]
        guard paths.contains(where: { access($0, F_OK) == 0 }) else { return }
        guard let lock = RebuildLock(indexPath: indexPath) else { return }   // a live rebuild
        for p in paths { removeFiles(p) }
        lock.release()
    }
}

/// The exclusive `flock` a rebuild holds on `<index>-rebuild.lock` while it runs (the file is removed when it
/// ends; a lock taken on a file that was removed meanwhile is taken again on the new one).
final class RebuildLock {
    let fd: Int32
    let path: String

    static func path(_ indexPath: String) -> String { indexPath + "-rebuild.lock" }

    /// Nil when another process holds the lock.
    init?(indexPath: String) {
        path = Self.path(indexPath)
        while true {
            let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return nil }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { close(fd); return nil }
            var a = stat(), b = stat()
            if fstat(fd, &a) == 0, stat(path, &b) == 0, a.st_ino == b.st_ino, a.st_dev == b.st_dev {
                self.fd = fd
                return
            }
            close(fd)   // removed by the previous holder after we opened it: lock the new file
        }
    }

    func release() {
        unlink(path)
        close(fd)
    }
}

extension SQLiteConnection {
    /// Copies this database over `destination`'s main database in one step (`sqlite3_backup`): one write
    /// transaction there, atomic for its readers and other connections.
    func backup(into destination: SQLiteConnection) throws {
        guard let b = sqlite3_backup_init(destination.handle, "main", handle, "main") else {
            throw SQLiteError(code: sqlite3_errcode(destination.handle),
                              message: "cannot start copying the rebuilt index: " + String(cString: sqlite3_errmsg(destination.handle)))
        }
        // A concurrent catch-up's write transaction is waited for by the destination's busy handler (its busy
        // timeout); should it still be busy, the step is tried again a few times.
        var rc = sqlite3_backup_step(b, -1)
        var tries = 0
        while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && tries < 100 {
            usleep(50_000)
            tries += 1
            rc = sqlite3_backup_step(b, -1)
        }
        let frc = sqlite3_backup_finish(b)
        if rc != SQLITE_DONE {
            throw SQLiteError(code: rc, message: "copying the rebuilt index over the live one failed: "
                              + String(cString: sqlite3_errstr(rc)))
        }
        if frc != SQLITE_OK {
            throw SQLiteError(code: frc, message: "copying the rebuilt index over the live one failed: "
                              + String(cString: sqlite3_errmsg(destination.handle)))
        }
    }
}

/// Phase times of a rebuild on stderr when `MOONPALACE_REBUILD_TRACE` is set (for profiling): wall time since
/// the previous mark and the calling thread's CPU time.
enum RebuildTrace {
    static let enabled = getenv("MOONPALACE_REBUILD_TRACE") != nil
    nonisolated(unsafe) static var last = ContinuousClock.now

    static func mark(_ what: String) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let d = (now - last).components
        last = now
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        func f(_ x: Double) -> String { String(Int(x)) + "." + String(Int(x * 100) % 100 / 10) + String(Int(x * 100) % 10) }
        let line = "rebuild trace: \(what): +\(f(Double(d.seconds) + Double(d.attoseconds) / 1e18)) s wall, "
            + "thread CPU \(f(Double(t.tv_sec) + Double(t.tv_nsec) / 1e9)) s\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
