#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The writer's shared state, its owner thread's loop and the producers' combining fast path.
///
/// Producers put their record on the queue under `lock`. Whoever holds the `writing` role owns the segment, the
/// counters and the fsync bookkeeping ("writer-only" fields below) and writes what is queued: a producer that finds
/// the role free takes it and writes the queue itself on its own thread (its own record and whatever others queued
/// meanwhile, a few rounds at most), so a busy writer needs no thread hand-off per batch; the owner thread takes
/// the role for everything else — the `always` policy, rolling segments (fsync), `sync()`, `close()` and whatever a
/// producer left queued. One holder at a time: `writing` is only changed under `lock`, which also orders the holders'
/// accesses to the writer-only fields.
/// `@unchecked Sendable`: the queue is guarded by `lock`; the writer-only fields by the `writing` role.
final class WriterCore: @unchecked Sendable {
    struct Ack { var sequence: UInt64; var position: RecordPosition; var exchangeID: UInt64 }
    struct Pending {
        var payload: StoredPayload
        var type: RecordType
        var exchangeID: UInt64
        /// Settled exactly once (`settle`): by `write` (acknowledged or failed) or by `finish`/`enqueue` (closed).
        var completion: Completion

        /// One append's continuation (unsafe rather than checked: the checked kind costs an extra allocation on
        /// every append), or a record of an `appendExchanges` batch: `exchange` is its index in the batch, and a
        /// record that is not a begin takes the exchange id of the begin written just before it.
        enum Completion {
            case single(UnsafeContinuation<Result<Ack, LogError>, Never>)
            case batch(BatchCompletion, exchange: Int)
        }

        init(payload: StoredPayload, type: RecordType, exchangeID: UInt64,
             continuation: UnsafeContinuation<Result<Ack, LogError>, Never>) {
            self.payload = payload; self.type = type; self.exchangeID = exchangeID
            completion = .single(continuation)
        }

        init(payload: StoredPayload, type: RecordType, batch: BatchCompletion, exchange: Int) {
            self.payload = payload; self.type = type; exchangeID = 0
            completion = .batch(batch, exchange: exchange)
        }

        /// The batch this record belongs to, if any.
        var batch: BatchCompletion? {
            if case .batch(let b, _) = completion { return b }
            return nil
        }

        /// Reports the outcome: `ack` when the record is in the file, `error` when it failed (both: written, but
        /// the `always` policy's fsync failed).
        func settle(ack: Ack?, error: LogError?) {
            switch completion {
            case .single(let c):
                if let error { c.resume(returning: .failure(error)) }
                else if let ack { c.resume(returning: .success(ack)) }
                else { c.resume(returning: .failure(.closed)) }
            case .batch(let b, let i):
                b.settle(exchange: i, isBegin: type == .begin, ack: ack, error: error)
            }
        }
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
    /// Someone (a producer or the owner thread) is writing: it owns the writer-only fields.
    private var writing = false
    /// Queued work only the owner thread may do (a segment roll): producers do not take the role meanwhile.
    private var ownerNeeded = false

    /// Batches a producer writes before it leaves the rest to the owner thread, so its own append is not held
    /// up indefinitely by a stream of others.
    private static let maxProducerRounds = 8

    // Writer-only (the holder of `writing`).
    /// The batch a producer holding the role is writing (kept for its capacity).
    private var producerBatch: [Pending] = []
    /// Exchange id of the last begin record framed: the id a batch record that is not a begin takes
    /// (`Pending.Completion.batch`; a batch's records are queued together, so nothing comes between).
    var lastBeginID: UInt64 = 0
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

    /// Queues `p`; when nobody is writing, writes the queue on the calling thread (write(2) only: never fsync,
    /// never a segment roll, never under the `always` policy — those go to the owner thread).
    func enqueue(_ p: Pending) {
        lock.lock()
        if closing || closed {
            lock.unlock()
            p.settle(ack: nil, error: .closed)
            return
        }
        queue.append(p)
        writeQueueIfFree()
    }

    /// Queues the records of an `appendExchanges` batch together (no other producer's record between them), then
    /// as `enqueue`.
    func enqueue(batch ps: [Pending]) {
        lock.lock()
        if closing || closed {
            lock.unlock()
            for p in ps { p.settle(ack: nil, error: .closed) }
            return
        }
        queue.append(contentsOf: ps)
        writeQueueIfFree()
    }

    /// Called with `lock` held after queueing; returns with it released. Writes the queue on the calling thread
    /// when nobody holds the writing role and the owner thread is not needed.
    private func writeQueueIfFree() {
        if writing { lock.unlock(); return }  // the holder writes it
        if ownerNeeded || options.syncPolicy == .always || !syncWaiters.isEmpty {
            lock.unlock()
            lock.signal()
            return
        }
        writing = true
        var rounds = 0
        while true {
            swap(&producerBatch, &queue)
            lock.unlock()
            let rest = write(producerBatch, canRoll: false)
            producerBatch.removeAll(keepingCapacity: true)
            rounds += 1
            lock.lock()
            if !rest.isEmpty {
                queue.insert(contentsOf: rest, at: 0)
                ownerNeeded = true
                break
            }
            if queue.isEmpty || rounds >= Self.maxProducerRounds || closing || !syncWaiters.isEmpty { break }
        }
        writing = false
        let wake = !queue.isEmpty || !syncWaiters.isEmpty || closing
        lock.unlock()
        if wake { lock.signal() }
    }

    func requestSync(_ w: Waiter) {
        lock.lock()
        if closed { lock.unlock(); w.resume(returning: .success(())); return }
        syncWaiters.append(w)
        lock.unlock()
        lock.signal()
    }

    func requestClose(_ w: Waiter?) {
        lock.lock()
        if closed { lock.unlock(); w?.resume(returning: .success(())); return }
        closing = true
        if let w { closeWaiters.append(w) }
        lock.unlock()
        lock.signal()
    }

    // MARK: owner thread

    func run() {
        var batch: [Pending] = []
        while true {
            lock.lock()
            while writing || (queue.isEmpty && syncWaiters.isEmpty && !closing) { lock.wait() }
            writing = true
            ownerNeeded = false
            swap(&batch, &queue)
            let syncs = syncWaiters
            syncWaiters = []
            let finishing = closing && batch.isEmpty
            lock.unlock()

            if !batch.isEmpty { _ = write(batch, canRoll: true); batch.removeAll(keepingCapacity: true) }
            if !syncs.isEmpty {
                let r = syncNow()
                for w in syncs { w.resume(returning: r) }
            }
            if finishing { finish(); return }
            lock.lock()
            writing = false
            lock.unlock()
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
        for p in late { p.settle(ack: nil, error: .closed) }
        for w in waiters { w.resume(returning: r) }
    }
}

/// Completion of one `LogWriter.appendExchanges` call. Its records may be settled by different threads across
/// several writes, and not in record order (a failed group is settled before the successful ones written before
/// it); once every record is settled, the caller resumes with the exchange ids of the begins written.
/// After the first failure the writer skips the batch's remaining records (settling them as failed, unwritten),
/// so no record is written for an exchange whose begin failed.
final class BatchCompletion: Sendable {
    struct State {
        var remaining: Int
        var beginIDs: [UInt64?]
        var error: LogError?
        var continuation: UnsafeContinuation<ExchangeBatchResult, Never>?
    }
    private let state: Mutex<State>

    init(records: Int, exchanges: Int, continuation: UnsafeContinuation<ExchangeBatchResult, Never>) {
        state = Mutex(State(remaining: records, beginIDs: Array(repeating: nil, count: exchanges), error: nil,
                            continuation: continuation))
    }

    /// Whether a record of the batch failed (the writer then skips the rest).
    var failed: Bool { state.withLock { $0.error != nil } }

    func settle(exchange: Int, isBegin: Bool, ack: Ack?, error: LogError?) {
        let done: (UnsafeContinuation<ExchangeBatchResult, Never>, ExchangeBatchResult)? = state.withLock { s in
            if isBegin, let ack { s.beginIDs[exchange] = ack.exchangeID }
            if s.error == nil, let error { s.error = error }
            s.remaining -= 1
            guard s.remaining == 0, let c = s.continuation else { return nil }
            s.continuation = nil
            return (c, ExchangeBatchResult(exchangeIDs: s.beginIDs.compactMap { $0 }, error: s.error))
        }
        if let (c, result) = done { c.resume(returning: result) }
    }

    typealias Ack = WriterCore.Ack
}
