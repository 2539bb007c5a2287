/// Iterates the log's records in order from a sequence number, across segments, including segments and
/// records a running writer adds while iterating. Damage is recorded in `damage` and stepped over;
/// records of unknown types (newer versions) are counted in `skippedUnknown` and skipped.
/// Not thread-safe: use one iterator per task.
public final class LogRecordIterator: IteratorProtocol, Sequence {
    public let directory: String
    public let fromSequence: UInt64
    /// Problems met so far, in log order. A torn tail of the last segment is not listed here.
    public private(set) var damage: [LogDamage] = []
    public private(set) var skippedUnknown = 0

    private var scanner: SegmentScanner?
    private var currentBase: UInt64?
    private var started = false
    private var scratch: [UInt8] = []
    private var fromPosition: RecordPosition?

    init(directory: String, from sequence: UInt64, position: RecordPosition? = nil) {
        self.directory = directory
        fromSequence = sequence
        fromPosition = position
    }

    public func next() -> StoredRecord? {
        while true {
            if scanner == nil && !openNextSegment() { return nil }
            guard let s = scanner else { return nil }
            guard let event = s.next() else {
                if finishSegment(s) { continue }
                return nil
            }
            switch event {
            case .frame(let h, let offset, let frame):
                if h.sequence < fromSequence { continue }
                let position = RecordPosition(segment: s.base, offset: offset)
                do {
                    guard let record = try FrameDecoder.decode(h, frame: frame, position: position, scratch: &scratch)
                    else { skippedUnknown += 1; continue }
                    return record
                } catch {
                    damage.append(LogDamage(kind: .undecodable, segment: s.base, offset: offset,
                                            length: UInt64(h.frameLength), reason: error.description))
                }
            case .damage(let offset, let length):
                damage.append(LogDamage(kind: .corrupt, segment: s.base, offset: offset, length: length,
                                        reason: "CRC or framing check failed; skipped to the next valid record"))
            case .tornTail(let offset, _):
                // A write in progress (or cut by a crash): read no further here, but pick it up if it completes.
                s.seek(to: offset)
                if finishSegment(s) { continue }
                return nil
            }
        }
    }

    /// At the end of a segment: continue in it if it grew, else move to the next segment. False at the end of the log.
    private func finishSegment(_ s: SegmentScanner) -> Bool {
        if s.refreshSize() { return true }
        scanner = nil
        guard let bases = try? SegmentName.list(directory), bases.contains(where: { $0 > s.base }) else {
            // Last segment: stay on it so a later next() sees records appended meanwhile.
            scanner = s
            return false
        }
        if s.position < s.fileSize {
            // The torn tail was a write in progress before a roll; re-read it as a sealed segment would be.
            if let sealed = try? SegmentScanner(directory: directory, base: s.base, isLast: false) {
                sealed.seek(to: s.position)
                scanner = sealed
                return true
            }
        }
        return true
    }

    /// Opens the segment after the current one (or the first one to read); false when there is none.
    private func openNextSegment() -> Bool {
        let bases: [UInt64]
        do { bases = try SegmentName.list(directory) } catch {
            if !started {
                damage.append(LogDamage(kind: .unreadableSegment, segment: 0, offset: 0, length: 0,
                                        reason: error.description))
            }
            started = true
            return false
        }
        var candidates: ArraySlice<UInt64>
        if let current = currentBase {
            candidates = bases.drop(while: { $0 <= current })
        } else {
            started = true
            if let p = fromPosition {
                candidates = bases.drop(while: { $0 < p.segment })
            } else {
                // The last segment whose base ≤ fromSequence holds it (or everything, for 0).
                let firstIndex = bases.lastIndex(where: { $0 <= fromSequence }) ?? 0
                candidates = bases.isEmpty ? [] : bases[firstIndex...]
            }
        }
        while let base = candidates.first {
            candidates = candidates.dropFirst()
            currentBase = base
            do {
                let s = try SegmentScanner(directory: directory, base: base, isLast: candidates.isEmpty)
                if let p = fromPosition, p.segment == base { s.seek(to: p.offset) }
                fromPosition = nil
                scanner = s
                return true
            } catch {
                damage.append(LogDamage(kind: .unreadableSegment, segment: base, offset: 0, length: 0,
                                        reason: error.description))
            }
        }
        return false
    }
}
