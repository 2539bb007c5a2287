/// The `.batch` fsync policy's own thread: fsyncs the active segment at most `interval` after the first unsynced
/// write, while the owner thread keeps writing (fsync can take tens of milliseconds; appends must not wait for it).
///
/// It holds a reference to the segment it will fsync, so the segment's descriptor stays open until that fsync is done
/// even if the writer rolled to a new segment meanwhile (`SegmentWriter` closes its descriptor in `deinit`).
/// `@unchecked Sendable`: all state is guarded by `lock`.
final class GroupCommit: @unchecked Sendable {
    private let lock = ConditionLock()
    private let intervalNanos: UInt64
    private var dirtySince: UInt64?
    private var target: SegmentWriter?
    /// The state of `target` at the last write: recorded as the checkpoint once an fsync that began after it is done.
    private var pendingCheckpoint: Checkpoint?
    private let checkpoints: CheckpointFile?
    private var stopping = false
    private var stopped = false
    /// The last fsync failure, reported by the next `sync()` of the writer.
    private var failure: LogError?

    init(intervalMs: Int, checkpoints: CheckpointFile?) {
        intervalNanos = UInt64(max(1, intervalMs)) * 1_000_000
        self.checkpoints = checkpoints
    }

    func start() throws(LogError) { try OwnerThread.start { self.run() } }

    /// Called by the owner thread after each successful write to `segment`; `state` describes the segment after it.
    func noteWrite(to segment: SegmentWriter, state: Checkpoint) {
        lock.lock()
        pendingCheckpoint = state
        if dirtySince == nil || target !== segment {
            if dirtySince == nil { dirtySince = Posix.monotonicNanos() }
            target = segment
            lock.signal()
        }
        lock.unlock()
    }

    /// Takes (and clears) the last fsync failure.
    func takeFailure() -> LogError? {
        lock.withLock { defer { failure = nil }; return failure }
    }

    /// Stops the thread after any pending fsync; returns once it has exited.
    func stop() {
        lock.lock()
        stopping = true
        lock.signal()
        while !stopped { lock.wait(untilMonotonicNanos: Posix.monotonicNanos() + 10_000_000) }
        lock.unlock()
    }

    private func run() {
        lock.lock()
        while true {
            while dirtySince == nil && !stopping { lock.wait() }
            guard let since = dirtySince else { break }  // stopping, nothing pending
            let deadline = since + intervalNanos
            while !stopping && Posix.monotonicNanos() < deadline { lock.wait(untilMonotonicNanos: deadline) }
            let segment = target
            let state = pendingCheckpoint
            dirtySince = nil
            target = nil
            pendingCheckpoint = nil
            lock.unlock()
            var error: LogError?
            do { try segment?.sync() } catch let e { error = e }
            // Everything written up to `state` was written before this fsync began: it is durable now.
            if error == nil, let state, state.segment == segment?.base { checkpoints?.record(state) }
            lock.lock()
            if let error { failure = error }
        }
        stopped = true
        lock.signal()
        lock.unlock()
    }
}
