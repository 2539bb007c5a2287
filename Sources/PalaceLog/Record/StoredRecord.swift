/// Where a record's frame starts: the segment (its base sequence number, which is also its file name) and the byte
/// offset of the frame inside that file. Positions order like the log: by segment, then by offset.
/// Compaction rewrites sealed segments, so positions inside a compacted segment change (sequence numbers do not).
public struct RecordPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var segment: UInt64
    public var offset: UInt64
    public init(segment: UInt64, offset: UInt64) { self.segment = segment; self.offset = offset }
    public static func < (a: RecordPosition, b: RecordPosition) -> Bool {
        (a.segment, a.offset) < (b.segment, b.offset)
    }
    public var description: String { "\(SegmentName.fileName(for: segment))@\(offset)" }
}

/// What `LogWriter.append` promises: the record's sequence number and where its frame starts.
public struct AppendResult: Sendable, Hashable {
    public var sequence: UInt64
    public var position: RecordPosition
    public init(sequence: UInt64, position: RecordPosition) { self.sequence = sequence; self.position = position }
}

/// A decoded record as read back from the log.
public struct StoredRecord: Sendable, Hashable {
    /// The record's sequence number: unique, increasing in log order (gaps only after compaction).
    public var sequence: UInt64
    /// When the record was appended, Unix microseconds.
    public var timestamp: Int64
    public var position: RecordPosition
    public var record: LogRecord
    public init(sequence: UInt64, timestamp: Int64, position: RecordPosition, record: LogRecord) {
        self.sequence = sequence; self.timestamp = timestamp; self.position = position; self.record = record
    }
}
