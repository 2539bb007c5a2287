import PalaceLog

/// Keeps the index of a data directory at most `interval` behind the log while a proxy writes it — the task
/// `moonpalace start` runs beside the server:
/// ```swift
/// let tailer = try IndexTailer(dataDirectory: dir, notice: log)
/// let task = Task(executorPreference: BlockingWorkExecutor(name: "moonpalace-index")) { await tailer.run() }
/// // cancel at shutdown; the executor (a thread of its own) because a catch-up blocks on SQLite
/// ```
/// Invariants: rows left `in_flight` by an earlier run are marked `incomplete` before the first catch-up (call
/// `start()` before the proxy accepts traffic); an error (disk full, damaged index) is reported through `notice`
/// and retried on the next tick — it never stops the proxy. Uses its own SQLite connection.
public final class IndexTailer: Sendable {
    let index: ExchangeIndex
    let interval: Duration
    let notice: @Sendable (String) -> Void

    /// `pageCacheKiB` caps this connection's SQLite page cache (default: the index's own, sized for rebuilds and
    /// queries): a tailer beside a proxy appends a few rows at a time and needs few pages, and whatever the cache
    /// holds stays in the proxy's resident memory.
    public init(dataDirectory: DataDirectory, interval: Duration = .milliseconds(250), pageCacheKiB: Int? = nil,
                notice: @escaping @Sendable (String) -> Void = { _ in }) throws {
        index = try ExchangeIndex(dataDirectory: dataDirectory, notice: notice)
        if let pageCacheKiB { try index.db.execute("PRAGMA cache_size=-\(max(64, pageCacheKiB))") }
        self.interval = interval
        self.notice = notice
    }

    /// Marks rows of an earlier run that never ended as incomplete. Call before the proxy accepts traffic.
    public func start() throws { try index.markInFlightAsIncomplete() }

    /// Catches up every `interval` until the task is cancelled, then once more.
    public func run() async {
        var lastError = ""
        while !Task.isCancelled {
            do {
                try index.catchUpWhileWriting()
                lastError = ""
            } catch {
                let text = "\(error)"
                if text != lastError { notice("index: \(text) (will retry)") }
                lastError = text
            }
            try? await Task.sleep(for: interval)
        }
        try? index.catchUpWhileWriting()
    }
}

extension ExchangeIndex {
    /// Catch-up for the writer's own process: open exchanges stay `in_flight` (the writer is alive by definition).
    func catchUpWhileWriting() throws {
        if let why = try aheadOfLog() {
            notice("index is ahead of the log (\(why)); rebuilding it from the log")
            try rebuild()
            return
        }
        do {
            _ = try updater.catchUp()
        } catch IndexError.interruptedRebuild(let why) {
            notice("an index rebuild was interrupted (\(why)); rebuilding it from the log")
            try rebuild()
        }
    }
}
