/// Read-only access to a log directory. Safe beside a running writer (it never locks or modifies files):
/// records appear as the writer adds them, and a write in progress at the end is not mistaken for damage.
public final class LogReader: Sendable {
    public let directory: String

    /// Fails only when the directory cannot be listed; an empty or missing log reads as empty.
    public init(directory: String) throws(LogError) {
        self.directory = directory
        _ = try SegmentName.list(directory)
    }

    /// Records with sequence ≥ `sequence`, in log order.
    public func records(from sequence: UInt64 = 0) -> LogRecordIterator {
        LogRecordIterator(directory: directory, from: sequence)
    }

    /// Records from the frame at `position` on, in log order.
    public func records(fromPosition position: RecordPosition) -> LogRecordIterator {
        LogRecordIterator(directory: directory, from: 0, position: position)
    }

    /// The record whose frame starts at `position`.
    public func read(at position: RecordPosition) throws(LogError) -> StoredRecord {
        let s = try SegmentScanner(directory: directory, base: position.segment, isLast: false)
        guard position.offset >= UInt64(s.header.headerSize), let (h, frame) = s.validFrame(at: position.offset) else {
            throw .noRecord(position: position)
        }
        var scratch: [UInt8] = []
        guard let record = try FrameDecoder.decode(h, frame: frame, position: position, scratch: &scratch) else {
            throw .unknownRecordType(type: h.type, position: position)
        }
        return record
    }

    /// Base sequence numbers of the segments, oldest first.
    public func segments() throws(LogError) -> [UInt64] { try SegmentName.list(directory) }

    /// One past the last readable record's sequence number (1 for an empty log). Reads the last segment (only
    /// its bytes after the writer's checkpoint, when that is usable).
    public var nextSequence: UInt64 {
        guard let bases = try? SegmentName.list(directory) else { return 1 }
        let checkpoint = Checkpoint.read(directory: directory)
        for base in bases.reversed() {
            guard let s = try? SegmentScanner(directory: directory, base: base, isLast: true) else { continue }
            var last: UInt64?
            if let c = checkpoint, SegmentRecovery.usable(c, s) {
                if c.lastFrameOffset != 0 { last = c.nextSequence - 1 }
                s.seek(to: c.length)
            }
            while let event = s.next() {
                if case .frame(let h, _, _) = event { last = h.sequence }
            }
            if let last { return last + 1 }
            return max(s.header.baseSequence, 1)
        }
        return 1
    }
}
