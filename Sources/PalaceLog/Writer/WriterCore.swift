#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The writer's shared state and its owner thread's loop. Producers only touch the queue (under `lock`);
/// the segment, counters and fsync bookkeeping belong to the owner thread.
/// `@unchecked Sendable`: the queue is guarded by `lock`; the owner-only fields are touched by one thread.
final class WriterCore: @unchecked Sendable {
    struct Ack { var sequence: UInt64; var position: RecordPosition; var exchangeID: UInt64 }
    struct Pending {
        var payload: StoredPayload
        var type: RecordType
        var exchangeID: UInt64
        /// Resumed exactly once: by `write` (acknowledged or failed) or by `finish`/`enqueue` (closed). Unsafe
        /// rather than checked: the checked kind costs an extra allocation on every append.
        var continuation: UnsafeContinuation<Result<Ack, LogError>, Never>
    }
    struct Counters: Sendable { var sequence: UInt64; var exchangeID: UInt64 }
    typealias Waiter = CheckedContinuation<Result<Void, LogError>, Never>

    let directory: String
    let options: LogWriterOptions
    private let lockFile: LockFile
    /// The `.batch` policy's fsync thread (nil for other policies).
    let groupCommit: GroupCommit?
    /// `CHECKPOINT`, recorded after every fsync of the active segment (nil if it cannot be opened).
    let checkpoints: CheckpointFile?

    // Guarded by `lock`.
    private let lock = ConditionLock()
    private var queue: [Pending] = []
    private var syncWaiters: [Waiter] = []
    private var closeWaiters: [Waiter] = []
    private var closing = false
    private var closed = false

    // Owner thread only.
    var segment: SegmentWriter
    var dirtySince: UInt64?
    /// Published for `nextSequence`/`nextExchangeID`; written by the owner thread after each commit.
    let published: Mutex<Counters>
    var counters: Counters
    /// Offset of the last frame written to the active segment (0: none yet).
    var lastFrameOffset: UInt64

    var committed: Counters { published.withLock { $0 } }

    private init(directory: String, options: LogWriterOptions, lockFile: LockFile, segment: SegmentWriter,
                 counters: Counters, lastFrameOffset: UInt64, checkpoints: CheckpointFile?) {
        self.directory = directory; self.options = options; self.lockFile = lockFile
        self.segment = segment; self.counters = counters; published = Mutex(counters)
        self.lastFrameOffset = lastFrameOffset
        self.checkpoints = checkpoints
        groupCommit = options.syncPolicy == .batch
            ? GroupCommit(intervalMs: options.batchSyncIntervalMs, checkpoints: checkpoints) : nil
    }

    /// The active segment's state as written so far (durable once an fsync that starts now is done).
    var checkpoint: Checkpoint {
        Checkpoint(segment: segment.base, length: segment.size, nextSequence: counters.sequence,
                   nextExchangeID: counters.exchangeID, lastFrameOffset: lastFrameOffset)
    }

    static func recover(directory: String, options: LogWriterOptions, lock: LockFile) throws(LogError) -> WriterCore {
        for name in try Posix.listDirectory(directory) where name.hasSuffix(SegmentName.temporarySuffix) {
            unlink(directory + "/" + name)  // an interrupted segment creation or compaction
        }
        let bases = try SegmentName.list(directory)
        let checkpoints = CheckpointFile(directory: directory)
        guard let last = bases.last else {
            let header = SegmentHeader(baseSequence: 1, createdAt: Posix.nowMicros(), nextExchangeID: 1)
            let seg = try SegmentWriter.create(directory: directory, header: header, io: options.fileIO)
            let core = WriterCore(directory: directory, options: options, lockFile: lock, segment: seg,
                                  counters: Counters(sequence: 1, exchangeID: 1), lastFrameOffset: 0,
                                  checkpoints: checkpoints)
            checkpoints?.record(core.checkpoint)
            return core
        }
        let r = try SegmentRecovery.recover(directory: directory, base: last,
                                            checkpoint: Checkpoint.read(directory: directory))
        let counters = Counters(sequence: max(1, r.lastSequence.map { $0 + 1 } ?? r.header.baseSequence),
                                exchangeID: max(1, r.header.nextExchangeID, r.maxBeginExchangeID + 1))
        var seg = try SegmentWriter.openForAppend(directory: directory, header: r.header, io: options.fileIO)
        var lastFrame = r.lastFrameOffset ?? 0
        if r.damagedInside {
            // Keep the records after the damage: seal this segment as it is and continue in a new one.
            seg.close()
            let header = SegmentHeader(baseSequence: counters.sequence, createdAt: Posix.nowMicros(),
                                       nextExchangeID: counters.exchangeID)
            seg = try SegmentWriter.create(directory: directory, header: header, io: options.fileIO)
            lastFrame = 0
        }
        let core = WriterCore(directory: directory, options: options, lockFile: lock, segment: seg,
                              counters: counters, lastFrameOffset: lastFrame, checkpoints: checkpoints)
        // Recovery verified (or fsync'd: a truncation, a new segment) everything up to here.
        if r.damagedInside || r.truncatedBytes > 0 || r.verifiedDurable { checkpoints?.record(core.checkpoint) }
        return core
    }

    // MARK: producers

    func enqueue(_ p: Pending) {
        lock.lock()
        if closing || closed {
            lock.unlock()
            p.continuation.resume(returning: .failure(.closed))
            return
        }
        queue.append(p)
        if queue.count == 1 { lock.signal() }
        lock.unlock()
    }

    func requestSync(_ w: Waiter) {
        lock.lock()
        if closed { lock.unlock(); w.resume(returning: .success(())); return }
        syncWaiters.append(w)
        lock.signal()
        lock.unlock()
    }

    func requestClose(_ w: Waiter?) {
        lock.lock()
        if closed { lock.unlock(); w?.resume(returning: .success(())); return }
        closing = true
        if let w { closeWaiters.append(w) }
        lock.signal()
        lock.unlock()
    }

    // MARK: owner thread

    func run() {
        var batch: [Pending] = []
        while true {
            lock.lock()
            while queue.isEmpty && syncWaiters.isEmpty && !closing { lock.wait() }
            swap(&batch, &queue)
            let syncs = syncWaiters
            syncWaiters = []
            let finishing = closing && queue.isEmpty && batch.isEmpty
            lock.unlock()

            if !batch.isEmpty { write(batch); batch.removeAll(keepingCapacity: true) }
            if !syncs.isEmpty {
                let r = syncNow()
                for w in syncs { w.resume(returning: r) }
            }
            if finishing { finish(); return }
        }
    }

    private func syncNow() -> Result<Void, LogError> {
        // A failed group commit is reported to the next caller who asks for durability.
        if let e = groupCommit?.takeFailure() { dirtySince = nil; return .failure(e) }
        guard dirtySince != nil else { return .success(()) }
        let state = checkpoint
        do { try segment.sync() } catch { return .failure(error) }
        dirtySince = nil
        checkpoints?.record(state)
        return .success(())
    }

    private func finish() {
        groupCommit?.stop()
        let r = syncNow()
        segment.close()
        lockFile.release()
        lock.lock()
        closed = true
        let waiters = closeWaiters
        let late = queue
        queue = []
        lock.unlock()
        for p in late { p.continuation.resume(returning: .failure(.closed)) }
        for w in waiters { w.resume(returning: r) }
    }
}
