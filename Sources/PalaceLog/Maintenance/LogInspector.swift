/// Per-segment figures of `log stat`.
public struct SegmentSummary: Sendable, Hashable {
    public var base: UInt64
    public var fileName: String { SegmentName.fileName(for: base) }
    public var fileBytes: UInt64
    public var createdAt: Int64
    public var records: Int = 0
    /// Payload bytes before compression.
    public var rawBytes: UInt64 = 0
    /// Payload bytes as stored (after compression), without frame headers.
    public var storedBytes: UInt64 = 0
    public var firstSequence: UInt64?
    public var lastSequence: UInt64?
    /// Records per type name (`begin`, …, or `type-N` for unknown types).
    public var recordsByType: [String: Int] = [:]
}

/// What `LogInspector` found in a whole log.
public struct LogSummary: Sendable {
    public var directory: String
    public var segments: [SegmentSummary] = []
    /// Damage inside the log (an error); a torn tail of the last segment is in `tornTail` instead.
    public var damage: [LogDamage] = []
    public var tornTail: LogDamage?
    public var records: Int { segments.reduce(0) { $0 + $1.records } }
    public var rawBytes: UInt64 { segments.reduce(0) { $0 + $1.rawBytes } }
    public var storedBytes: UInt64 { segments.reduce(0) { $0 + $1.storedBytes } }
    public var fileBytes: UInt64 { segments.reduce(0) { $0 + $1.fileBytes } }
    /// rawBytes / storedBytes (1 for an empty log).
    public var ratio: Double { storedBytes == 0 ? 1 : Double(rawBytes) / Double(storedBytes) }
}

/// Whole-log checks for `log stat` and `log verify`. Read-only and safe beside a running writer.
public enum LogInspector {
    /// Walks every frame of every segment, verifying CRCs. With `decode`, also decompresses and decodes every
    /// payload (so an unknown dictionary or a bad payload is reported as `.undecodable` damage).
    public static func inspect(directory: String, decode: Bool) throws(LogError) -> LogSummary {
        var summary = LogSummary(directory: directory)
        let bases = try SegmentName.list(directory)
        var scratch: [UInt8] = []
        for (i, base) in bases.enumerated() {
            let isLast = i == bases.count - 1
            let s: SegmentScanner
            do { s = try SegmentScanner(directory: directory, base: base, isLast: isLast) } catch {
                summary.damage.append(LogDamage(kind: .unreadableSegment, segment: base, offset: 0, length: 0,
                                                reason: error.description))
                continue
            }
            var seg = SegmentSummary(base: base, fileBytes: s.fileSize, createdAt: s.header.createdAt)
            while let event = s.next() {
                switch event {
                case .frame(let h, let offset, let frame):
                    seg.records += 1
                    seg.rawBytes += UInt64(h.rawLength)
                    seg.storedBytes += UInt64(h.storedLength)
                    if seg.firstSequence == nil { seg.firstSequence = h.sequence }
                    seg.lastSequence = h.sequence
                    let name = RecordType(rawValue: h.type)?.name ?? "type-\(h.type)"
                    seg.recordsByType[name, default: 0] += 1
                    if decode {
                        let position = RecordPosition(segment: base, offset: offset)
                        do { _ = try FrameDecoder.decode(h, frame: frame, position: position, scratch: &scratch) } catch {
                            summary.damage.append(LogDamage(kind: .undecodable, segment: base, offset: offset,
                                                            length: UInt64(h.frameLength), reason: error.description))
                        }
                    }
                case .damage(let offset, let length):
                    summary.damage.append(LogDamage(kind: .corrupt, segment: base, offset: offset, length: length,
                                                    reason: "CRC or framing check failed"))
                case .tornTail(let offset, let length):
                    summary.tornTail = LogDamage(kind: .tornTail, segment: base, offset: offset, length: length,
                                                 reason: "incomplete record at the end of the active segment "
                                                    + "(a write in progress, or cut by a crash; the writer truncates it on open)")
                }
            }
            summary.segments.append(seg)
        }
        return summary
    }
}
