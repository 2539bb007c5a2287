/// Everything PalaceIndex can fail with, each with a message a person can act on.
public enum IndexError: Error, CustomStringConvertible {
    /// The index file was written by a newer moonpalace.
    case newerSchema(found: Int, known: Int)
    /// The index file has an older schema (it is rebuilt from the log: the index is derived data).
    case olderSchema(found: Int, known: Int)
    /// SQLite failed underneath.
    case sqlite(SQLiteError)
    /// Reading the log failed.
    case log(String)
    /// No exchange matches the selector given to `inspect`.
    case notFound(String)
    /// A command-line value was not understood.
    case invalidArgument(String)
    /// The index points at log records that are no longer there (log compacted or replaced): rebuild.
    case stale(String)
    /// A rebuild of the index stopped before its end (its process died or it failed): rebuild again.
    case interruptedRebuild(String)
    /// Another process is rebuilding the index right now.
    case rebuildRunning(String)
    /// Writing tombstones is impossible while another process holds the log's writer lock.
    case logBusy(String)

    public var description: String {
        switch self {
        case .newerSchema(let found, let known):
            return "the index has schema version \(found), newer than this moonpalace knows (\(known)); "
                + "run 'moonpalace index rebuild' or upgrade moonpalace"
        case .olderSchema(let found, let known):
            return "the index has schema version \(found), older than this moonpalace's (\(known)); "
                + "run 'moonpalace index rebuild'"
        case .sqlite(let e): return "index: \(e)"
        case .log(let m): return "log: \(m)"
        case .notFound(let m): return m
        case .invalidArgument(let m): return m
        case .logBusy(let m): return m
        case .interruptedRebuild(let m): return "an index rebuild was interrupted (\(m)); it must be rebuilt: run 'moonpalace index rebuild'"
        case .rebuildRunning(let m): return "the index is being rebuilt by another process (\(m)); wait for it to finish"
        case .stale(let m): return "the index is out of date with the log (\(m)); run 'moonpalace index rebuild'"
        }
    }
}
