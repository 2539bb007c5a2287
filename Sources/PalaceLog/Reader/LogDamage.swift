/// A problem a reader met and stepped over. Readers never stop at damage: they report it and go on.
public struct LogDamage: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Bytes that fail their CRC or framing inside the log; the records in them are lost.
        case corrupt
        /// The end of the last segment holds a write cut short (a crash, or a write in progress). Not an error.
        case tornTail = "torn-tail"
        /// A frame with a valid CRC whose payload cannot be decoded (unknown dictionary or codec, bad payload).
        case undecodable
        /// A segment file that cannot be opened or has a bad header.
        case unreadableSegment = "unreadable-segment"
    }
    public var kind: Kind
    /// The segment's base sequence number (its file name).
    public var segment: UInt64
    /// Byte offset in the segment file where the problem starts.
    public var offset: UInt64
    /// Bytes affected (skipped), when known.
    public var length: UInt64
    public var reason: String

    public init(kind: Kind, segment: UInt64, offset: UInt64, length: UInt64, reason: String) {
        self.kind = kind; self.segment = segment; self.offset = offset; self.length = length; self.reason = reason
    }

    public var description: String {
        "\(SegmentName.fileName(for: segment)) offset \(offset): \(kind.rawValue), \(length) bytes: \(reason)"
    }
}
