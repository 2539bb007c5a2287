import Synchronization

/// The records a `LogWriter` appended, handed to one in-process consumer as they are written — the index tailer
/// inside `moonpalace start` — so it need not read them back from the log, check their CRC and decompress them.
///
/// Promises:
/// - A record is delivered after its bytes reached the OS (write(2)) and before its append returns, with the
///   sequence number, position and timestamp its frame has in the log and the record exactly as a reader decodes
///   it (exchange ids filled in). Records that failed to write are never delivered.
/// - `take()` returns records in log order with consecutive sequence numbers. Records appended before
///   `LogWriter.subscribe` are not delivered, and when the held records would pass `maxBytes` (a consumer that
///   fell behind) they are all dropped: the next `take()` then starts after a gap, which the consumer fills by
///   reading the log (everything delivered is in the log, so the log is always the fallback).
/// Thread-safe: the writer delivers under the writing role, the consumer takes from any thread.
public final class AppendFeed: Sendable {
    /// One written record as the writer leaves it: small (the record stays boxed as the producer gave it), so the
    /// writer's side costs a few words per record; `take()` turns entries into `StoredRecord`s on the consumer's side.
    struct Entry {
        var sequence: UInt64
        var timestamp: Int64
        var position: RecordPosition
        var exchangeID: UInt64
        var record: HeldRecord

        var stored: StoredRecord {
            StoredRecord(sequence: sequence, timestamp: timestamp, position: position,
                         record: record.record.framed(exchangeID: exchangeID))
        }
    }
    struct Held {
        var records: [Entry] = []
        /// Raw payload bytes of `records` (what they cost in memory, roughly).
        var bytes = 0
        /// Records dropped since the last `take()` because `maxBytes` was reached.
        var dropped = 0
    }
    private let held = Mutex(Held())
    public let maxBytes: Int

    init(maxBytes: Int) { self.maxBytes = max(1, maxBytes) }

    /// Everything delivered since the last call, in log order with consecutive sequence numbers (maybe empty).
    public func take() -> [StoredRecord] {
        let entries: [Entry] = held.withLock { h in
            defer { h.records = []; h.bytes = 0; h.dropped = 0 }
            return h.records
        }
        return entries.map(\.stored)
    }

    /// Records dropped since the last `take()` (the consumer fell more than `maxBytes` behind); for tests.
    public var dropped: Int { held.withLock { $0.dropped } }

    /// Called by the writer with the records of one write, in log order; `bytes` is their raw payload size.
    func deliver(_ records: [Entry], bytes: Int) {
        held.withLock { h in
            if h.bytes + bytes > maxBytes {
                h.dropped += h.records.count
                h.records.removeAll()
                h.bytes = 0
                if bytes > maxBytes { h.dropped += records.count; return }
            }
            if h.records.isEmpty { h.records = records } else { h.records.append(contentsOf: records) }
            h.bytes += bytes
        }
    }
}

/// A record kept for the feed between its append and its delivery (a reference, so the writer's queue entries
/// stay small: a `LogRecord` is several hundred bytes inline).
final class HeldRecord: Sendable {
    let record: LogRecord
    init(_ record: LogRecord) { self.record = record }
}

extension LogRecord {
    /// The record as a reader decodes it from a frame carrying `exchangeID` (the writer assigns a begin's id, and a
    /// batch record's, when it frames them).
    func framed(exchangeID id: UInt64) -> LogRecord {
        if exchangeID == id { return self }
        switch self {
        case .begin(var b): b.exchangeID = id; return .begin(b)
        case .chunk(var c): c.exchangeID = id; return .chunk(c)
        case .end(var e): e.exchangeID = id; return .end(e)
        case .annotation(var a): a.exchangeID = id; return .annotation(a)
        case .tombstone: return self
        }
    }
}
