/// The `.batch` fsync policy's own thread: fsyncs the active segment at most `interval` after the first unsynced
/// write, while the owner thread keeps writing (fsync can take tens of milliseconds; appends must not wait for it).
///
/// Wake-ups: a writer signals the thread only when it is parked (an untimed wait, after `parkAfterIdleRounds`
/// intervals without a write). Otherwise it is waiting with a deadline — its next idle check, at most `interval`
/// away, or the fsync deadline — and finds the write by itself, so appends of steady or sparse traffic (requests up
/// to ~1 s apart) never pay a cross-CPU wake-up on the request path. The fsync still starts `interval` after the
/// first unsynced write: an idle check that finds a write waits for that write's deadline.
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
    /// The thread is in an untimed wait: only a signal wakes it.
    private var parked = false
    /// Idle checks (one per interval) before the thread parks.
    static let parkAfterIdleRounds = 10
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
            if parked { lock.signal() }
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
            var idleRounds = 0
            while dirtySince == nil && !stopping {
                if idleRounds >= Self.parkAfterIdleRounds {
                    parked = true
                    lock.wait()
                    parked = false
                } else {
                    lock.wait(untilMonotonicNanos: Posix.monotonicNanos() + intervalNanos)
                    idleRounds += 1
                }
            }
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
