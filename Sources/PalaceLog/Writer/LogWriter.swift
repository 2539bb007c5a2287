/// What `LogWriter.appendExchanges` did.
public struct ExchangeBatchResult: Sendable, Equatable {
    /// The exchange ids given to the batch's begins, in batch order: all of them when `error` is nil, else those
    /// whose begin was written.
    public var exchangeIDs: [UInt64]
    /// Why the batch stopped early (nil: every record was written).
    public var error: LogError?

    public init(exchangeIDs: [UInt64], error: LogError?) {
        self.exchangeIDs = exchangeIDs; self.error = error
    }
}

/// The single writer of a log directory. Many producers call `append` concurrently; one holder at a time of the
/// writing role — a producer that finds it free (on its own thread, no hand-off) or the owner thread (segment rolls,
/// fsyncs, the `always` policy) — assigns sequence numbers and exchange ids and writes the queued records with one
/// write(2) per batch; fsync follows the policy (`WriterCore`).
///
/// Promises:
/// - when `append` returns, the record's bytes have been handed to the OS with write(2): they survive a crash
///   of this process (kill -9); they survive a machine crash once fsync'd (`sync()`, or the policy).
/// - sequence numbers and exchange ids increase in log order and have no gaps (a failed append consumes none).
/// - a failed append (disk full) leaves the log readable and unchanged; later appends retry by themselves.
/// - only one writer per directory (lock file); `open` fails with "another moonpalace (pid N) is writing to DIR".
public final class LogWriter: Sendable {
    public let directory: String
    public let options: LogWriterOptions
    private let core: WriterCore
    private let budget: CompressionBudget

    private init(directory: String, options: LogWriterOptions, core: WriterCore) {
        self.directory = directory; self.options = options; self.core = core
        budget = CompressionBudget(bytesPerSecond: options.compression ? options.highCompressionBytesPerSecond : 0)
    }

    /// Opens (creating if needed) the log in `directory`, recovering the active segment: a torn record at its
    /// end is truncated. Sealed segments are not read.
    public static func open(directory: String, options: LogWriterOptions = .init()) throws(LogError) -> LogWriter {
        try ensureDirectory(directory)
        let lock = try LockFile(directory: directory)
        do {
            let core = try WriterCore.recover(directory: directory, options: options, lock: lock)
            let writer = LogWriter(directory: directory, options: options, core: core)
            try core.groupCommit?.start()
            try OwnerThread.start { core.run() }
            return writer
        } catch {
            lock.release()
            throw error
        }
    }

    deinit { core.requestClose(nil) }

    /// Assigns the next exchange id (dense, increasing from 1) and appends the begin record.
    public func appendBegin(_ begin: ExchangeBegin) async throws(LogError) -> (exchangeID: UInt64, result: AppendResult) {
        let ack = try await submit(.begin(begin))
        return (ack.exchangeID, AppendResult(sequence: ack.sequence, position: ack.position))
    }

    /// Appends a record; returns once its bytes reached the OS. A `.begin` record gets a new exchange id
    /// (as with `appendBegin`); other records keep the exchange id they carry.
    public func append(_ record: LogRecord) async throws(LogError) -> AppendResult {
        let ack = try await submit(record)
        return AppendResult(sequence: ack.sequence, position: ack.position)
    }

    /// Appends many exchanges with one await (imports, bulk loads): `exchanges[i]` is one exchange, its `.begin`
    /// first, then its other records (chunks, end, annotations), which get the exchange id the begin gets (the
    /// id they carry is ignored). The records are queued together, so no other producer's record comes between
    /// them, and written with as few write(2) calls as the segment size allows; the same bytes as appending them
    /// one by one with `appendBegin`/`append`. Same promises as `append`: the bytes reached the OS when this
    /// returns; fsync follows the policy (or `sync()`).
    ///
    /// On failure (disk full, closed, a record too large, an exchange not starting with its begin) the batch
    /// stops at the first record that failed: nothing after it is written, `error` says why, and `exchangeIDs`
    /// lists the exchanges whose begin was written (the last may lack later records), for the caller to withdraw.
    public func appendExchanges(_ exchanges: [[LogRecord]]) async -> ExchangeBatchResult {
        var count = 0
        for records in exchanges {
            guard case .begin? = records.first, !records.dropFirst().contains(where: { $0.type == .begin }) else {
                return ExchangeBatchResult(exchangeIDs: [], error: .io(operation: "appendExchanges: each exchange must start with its one begin record", path: directory, errno: EINVAL))
            }
            count += records.count
        }
        guard count > 0 else { return ExchangeBatchResult(exchangeIDs: [], error: nil) }
        var stored: [(StoredPayload, RecordType, Int)] = []
        stored.reserveCapacity(count)
        for (i, records) in exchanges.enumerated() {
            for record in records {
                let payload = PayloadEncoding.encode(record)
                guard payload.count <= FrameHeader.maxPayload else {
                    // Nothing is queued yet: the whole batch is refused.
                    return ExchangeBatchResult(exchangeIDs: [],
                                               error: .recordTooLarge(bytes: payload.count, limit: FrameHeader.maxPayload))
                }
                stored.append((LZ4Codec.encode(payload, compress: options.compression, dictionaryID: options.dictionaryID,
                                               high: budget.takeHigh(payload.count)), record.type, i))
            }
        }
        return await withUnsafeContinuation { c in
            let batch = BatchCompletion(records: count, exchanges: exchanges.count, continuation: c)
            core.enqueue(batch: stored.map { WriterCore.Pending(payload: $0.0, type: $0.1, batch: batch, exchange: $0.2) })
        }
    }

    /// Returns once everything appended before the call is fsync'd.
    public func sync() async throws(LogError) {
        let r: Result<Void, LogError> = await withCheckedContinuation { c in core.requestSync(c) }
        try r.get()
    }

    /// Writes what is queued, fsyncs, closes the segment and releases the lock. Later appends fail with `.closed`.
    public func close() async throws(LogError) {
        let r: Result<Void, LogError> = await withCheckedContinuation { c in core.requestClose(c) }
        try r.get()
    }

    /// The sequence number the next record will get.
    public var nextSequence: UInt64 { core.committed.sequence }
    /// The exchange id the next begin record will get.
    public var nextExchangeID: UInt64 { core.committed.exchangeID }

    private func submit(_ record: LogRecord) async throws(LogError) -> WriterCore.Ack {
        let payload = PayloadEncoding.encode(record)
        guard payload.count <= FrameHeader.maxPayload else {
            throw .recordTooLarge(bytes: payload.count, limit: FrameHeader.maxPayload)
        }
        let stored = LZ4Codec.encode(payload, compress: options.compression, dictionaryID: options.dictionaryID,
                                     high: budget.takeHigh(payload.count))
        let type = record.type
        let xid = record.exchangeID
        let r: Result<WriterCore.Ack, LogError> = await withUnsafeContinuation { c in
            core.enqueue(WriterCore.Pending(payload: stored, type: type, exchangeID: xid, continuation: c))
        }
        return try r.get()
    }

    private static func ensureDirectory(_ dir: String) throws(LogError) {
        var st = stat()
        if stat(dir, &st) == 0 { return }
        if let slash = dir.lastIndex(of: "/"), slash != dir.startIndex { try ensureDirectory(String(dir[..<slash])) }
        if mkdir(dir, 0o700) != 0 && errno != EEXIST { throw .io(operation: "create directory", path: dir, errno: errno) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
