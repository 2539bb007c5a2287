#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything PalaceLog can fail with. Messages name the file and say what a person can do about it.
public enum LogError: Error, CustomStringConvertible, Equatable {
    /// Another process holds the writer lock of this log directory.
    case locked(directory: String, pid: Int32?)
    /// A system call failed on a path.
    case io(operation: String, path: String, errno: Int32)
    /// Writing failed because the disk is full; nothing of the failed appends is in the log.
    case diskFull(path: String)
    /// A segment's header is not a moonpalace segment header (or is damaged).
    case badSegmentHeader(path: String, reason: String)
    /// A record names a dictionary this build does not ship.
    case unknownDictionary(id: UInt16, position: RecordPosition)
    /// A record names a codec this build does not know.
    case unknownCodec(codec: UInt8, position: RecordPosition)
    /// A frame failed its checks (CRC, length, LZ4 stream, payload encoding).
    case corruptRecord(position: RecordPosition, reason: String)
    /// A record type written by a newer version; readers skip these.
    case unknownRecordType(type: UInt8, position: RecordPosition)
    /// No record starts at this position, or its segment is gone.
    case noRecord(position: RecordPosition)
    /// The payload is larger than one record may be.
    case recordTooLarge(bytes: Int, limit: Int)
    /// The writer has been closed.
    case closed

    public var description: String {
        switch self {
        case .locked(let dir, let pid):
            if let pid { return "another moonpalace (pid \(pid)) is writing to \(dir)" }
            return "another moonpalace is writing to \(dir)"
        case .io(let op, let path, let e):
            return "\(op) \(path) failed: \(LogError.message(errno: e))"
        case .diskFull(let path):
            return "no space left on the device holding \(path); the failed records were not logged "
                + "(free some space or run retention; appends resume by themselves)"
        case .badSegmentHeader(let path, let reason):
            return "\(path) is not a readable moonpalace segment (\(reason)); move it out of the log directory"
        case .unknownDictionary(let id, let pos):
            return "record at \(pos) is compressed with dictionary \(id), which this moonpalace does not ship; "
                + "upgrade moonpalace to read it"
        case .unknownCodec(let codec, let pos):
            return "record at \(pos) uses codec \(codec), unknown to this moonpalace; upgrade moonpalace to read it"
        case .corruptRecord(let pos, let reason):
            return "record at \(pos) is damaged: \(reason)"
        case .unknownRecordType(let type, let pos):
            return "record at \(pos) has type \(type), written by a newer moonpalace"
        case .noRecord(let pos):
            return "no record starts at \(pos)"
        case .recordTooLarge(let bytes, let limit):
            return "record of \(bytes) bytes exceeds the limit of \(limit) bytes; split the body into chunk records"
        case .closed:
            return "the log writer is closed"
        }
    }

    static func message(errno e: Int32) -> String {
        guard let s = strerror(e) else { return "errno \(e)" }
        return String(cString: s)
    }
}
