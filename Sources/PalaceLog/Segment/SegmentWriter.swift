#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The active segment, open for appending. Owned by the writer's owner thread only.
///
/// Invariants: the file always starts with a complete header (created as `.tmp`, fsync'd, renamed);
/// `size` is the file's length; a failed append leaves the file exactly as before it (truncated back).
final class SegmentWriter {
    let directory: String
    let path: String
    let header: SegmentHeader
    private(set) var size: UInt64
    private let fd: Int32
    private let io: FileIO
    private var closed = false

    var base: UInt64 { header.baseSequence }
    var hasRecords: Bool { size > UInt64(header.headerSize) }

    private init(directory: String, header: SegmentHeader, fd: Int32, size: UInt64, io: FileIO) {
        self.directory = directory
        path = SegmentName.path(directory, header.baseSequence)
        self.header = header; self.fd = fd; self.size = size; self.io = io
    }

    /// Creates a new, empty segment atomically: header into `<name>.tmp`, fsync, rename, fsync the directory.
    static func create(directory: String, header: SegmentHeader, io: FileIO) throws(LogError) -> SegmentWriter {
        let path = SegmentName.path(directory, header.baseSequence)
        let tmp = path + SegmentName.temporarySuffix
        let tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard tfd >= 0 else { throw .io(operation: "create", path: tmp, errno: errno) }
        let bytes = header.encoded()
        if let e = bytes.withUnsafeBytes({ io.writeAll(tfd, $0) }) {
            Glibc.close(tfd); unlink(tmp)
            throw e == ENOSPC || e == EDQUOT ? .diskFull(path: tmp) : .io(operation: "write", path: tmp, errno: e)
        }
        let se = io.fsync(tfd)
        Glibc.close(tfd)
        guard se == 0 else { unlink(tmp); throw .io(operation: "fsync", path: tmp, errno: -se) }
        guard rename(tmp, path) == 0 else {
            let e = errno; unlink(tmp)
            throw .io(operation: "rename \(tmp) to", path: path, errno: e)
        }
        try Posix.syncDirectory(directory)
        return try openForAppend(directory: directory, header: header, io: io)
    }

    /// Opens an existing segment (already recovered) for appending at its end.
    static func openForAppend(directory: String, header: SegmentHeader, io: FileIO) throws(LogError) -> SegmentWriter {
        let path = SegmentName.path(directory, header.baseSequence)
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        guard let size = Posix.fileSize(fd) else {
            let e = errno; Glibc.close(fd)
            throw .io(operation: "stat", path: path, errno: e)
        }
        return SegmentWriter(directory: directory, header: header, fd: fd, size: size, io: io)
    }

    /// Appends `bytes` with write(2). On failure the file is cut back to its previous length and the error thrown.
    func append(_ bytes: UnsafeRawBufferPointer) throws(LogError) {
        if let e = io.writeAll(fd, bytes) {
            _ = ftruncate(fd, off_t(size))
            if e == ENOSPC || e == EDQUOT { throw .diskFull(path: path) }
            throw .io(operation: "write", path: path, errno: e)
        }
        size += UInt64(bytes.count)
    }

    func sync() throws(LogError) {
        let r = io.fsync(fd)
        guard r == 0 else { throw .io(operation: "fsync", path: path, errno: -r) }
    }

    /// Closes the descriptor now; otherwise `deinit` does. Only the owner thread calls this, when no other
    /// thread can still use the segment (after the group-commit thread stopped).
    func close() {
        guard !closed else { return }
        closed = true
        _ = Glibc.close(fd)
    }

    deinit { close() }
}

/// What recovery found in the active segment on open.
struct RecoveredSegment {
    var header: SegmentHeader
    var lastSequence: UInt64?
    /// Offset of the last valid frame (nil: the segment holds none).
    var lastFrameOffset: UInt64?
    var maxBeginExchangeID: UInt64 = 0
    /// Damage followed by valid records: the segment is sealed as it is and a new one started.
    var damagedInside = false
    /// Bytes cut off the end (a torn write).
    var truncatedBytes: UInt64 = 0
    /// Whether recovery started from a checkpoint (only the bytes after it were read).
    var usedCheckpoint = false
    /// Whether the whole segment as it now stands is known durable (nothing after the checkpoint).
    var verifiedDurable = false
}

enum SegmentRecovery {
    /// Recovers the active (last) segment: truncates a torn tail and reports what the writer needs to continue.
    /// Sealed segments are never read. With a usable `checkpoint` of this segment only the bytes after it are
    /// verified (they are the only ones a crash can have damaged); otherwise the whole segment is scanned.
    static func recover(directory: String, base: UInt64, checkpoint: Checkpoint? = nil) throws(LogError) -> RecoveredSegment {
        let scanner = try SegmentScanner(directory: directory, base: base, isLast: true)
        var r = RecoveredSegment(header: scanner.header)
        if let c = checkpoint, usable(c, scanner) {
            r.usedCheckpoint = true
            if c.lastFrameOffset != 0 {
                r.lastSequence = c.nextSequence - 1
                r.lastFrameOffset = c.lastFrameOffset
            }
            r.maxBeginExchangeID = c.nextExchangeID > 0 ? c.nextExchangeID - 1 : 0
            r.verifiedDurable = c.length == scanner.fileSize
            scanner.seek(to: c.length)
        }
        var tornAt: UInt64?
        while let event = scanner.next() {
            switch event {
            case .frame(let h, let offset, _):
                r.lastSequence = h.sequence
                r.lastFrameOffset = offset
                if h.type == RecordType.begin.rawValue { r.maxBeginExchangeID = max(r.maxBeginExchangeID, h.exchangeID) }
            case .damage: r.damagedInside = true
            case .tornTail(let offset, let length): tornAt = offset; r.truncatedBytes = length
            }
        }
        if let cut = tornAt {
            let path = scanner.path
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
            defer { close(fd) }
            guard ftruncate(fd, off_t(cut)) == 0 else { throw .io(operation: "truncate", path: path, errno: errno) }
            guard fsync(fd) == 0 else { throw .io(operation: "fsync", path: path, errno: errno) }
        }
        return r
    }

    /// Whether `c` describes this segment as it is on disk: same segment, not longer than the file, and its last
    /// frame is where it says, valid, and ends exactly at the checkpoint (or there is no frame and the checkpoint
    /// is the header). Anything else (a stale or foreign checkpoint, a file cut by hand) means a full scan.
    static func usable(_ c: Checkpoint, _ s: SegmentScanner) -> Bool {
        let headerSize = UInt64(s.header.headerSize)
        guard c.segment == s.base, c.length >= headerSize, c.length <= s.fileSize,
              c.nextSequence >= 1 else { return false }
        if c.lastFrameOffset == 0 { return c.length == headerSize }
        guard c.lastFrameOffset >= headerSize, let (h, _) = s.validFrame(at: c.lastFrameOffset) else { return false }
        return c.lastFrameOffset + UInt64(h.frameLength) == c.length && h.sequence == c.nextSequence - 1
    }
}
