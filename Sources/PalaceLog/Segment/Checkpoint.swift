#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// `<log>/CHECKPOINT` (FORMAT.md, "Checkpoint"): how far the active segment is known to be durable and valid, so a
/// writer opening the log verifies only the bytes after it instead of reading the whole active segment (up to
/// 64 MiB, most of a second from a cold disk).
///
/// Invariant: a checkpoint is written only after the fsync that made its `length` bytes durable, so after any crash
/// (kill -9 or power loss) the bytes before `length` are exactly what the writer wrote: whole frames, verified when
/// they were written. It is an optimisation only: a missing, stale, damaged or foreign checkpoint makes recovery
/// read the whole active segment, as version 1.0 did. Not fsync'd itself (losing it only costs time).
struct Checkpoint: Equatable {
    static let fileName = "CHECKPOINT"
    static let magic: [UInt8] = Array("MPLOGCKP".utf8)
    static let version: UInt16 = 1
    static let size = 64

    /// The active segment it describes (its base sequence number).
    var segment: UInt64
    /// Bytes of the segment, from offset 0, that are durable: the header and whole frames.
    var length: UInt64
    /// 1 + the last frame's sequence number before `length` (the header's base when there is none).
    var nextSequence: UInt64
    /// The exchange id the writer would assign next at `length`.
    var nextExchangeID: UInt64
    /// Offset of the last frame before `length`, 0 when there is none.
    var lastFrameOffset: UInt64

    func encoded() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: Self.size)
        b.replaceSubrange(0..<8, with: Self.magic)
        b.putLE(Self.version, at: 8)
        b.putLE(UInt16(Self.size), at: 10)
        b.putLE(segment, at: 16)
        b.putLE(length, at: 24)
        b.putLE(nextSequence, at: 32)
        b.putLE(nextExchangeID, at: 40)
        b.putLE(lastFrameOffset, at: 48)
        b.putLE(CRC32C.checksum(b[0..<60]), at: 60)
        return b
    }

    /// Decodes a checkpoint; nil when the bytes are not a valid version-1 checkpoint.
    static func decode(_ b: UnsafeRawBufferPointer) -> Checkpoint? {
        guard b.count >= size, Array(b[0..<8]) == magic, b.le(UInt16.self, 8) == version,
              b.le(UInt16.self, 10) == UInt16(size),
              CRC32C.update(0, UnsafeRawBufferPointer(rebasing: b[0..<60])) == b.le(UInt32.self, 60) else { return nil }
        return Checkpoint(segment: b.le(UInt64.self, 16), length: b.le(UInt64.self, 24),
                          nextSequence: b.le(UInt64.self, 32), nextExchangeID: b.le(UInt64.self, 40),
                          lastFrameOffset: b.le(UInt64.self, 48))
    }

    /// The checkpoint file of `directory`, or nil when absent or invalid.
    static func read(directory: String) -> Checkpoint? {
        let fd = open(directory + "/" + fileName, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var raw = [UInt8](repeating: 0, count: size)
        let n = raw.withUnsafeMutableBytes { Posix.readFully(fd, $0.baseAddress!, count: size, offset: 0) }
        guard n == size else { return nil }
        return raw.withUnsafeBytes { decode($0) }
    }
}

/// The writer's handle on `CHECKPOINT`. Both the owner thread and the group-commit thread record checkpoints after
/// their fsyncs; a checkpoint older than the last one written (an earlier segment, or a shorter length) is dropped,
/// so the file only moves forward. Thread-safe.
final class CheckpointFile: Sendable {
    private let fd: Int32
    private let last: Mutex<(segment: UInt64, length: UInt64)>

    /// Opens (creating) the file; nil when that fails (recovery then reads the whole active segment; not an error).
    init?(directory: String) {
        let fd = open(directory + "/" + Checkpoint.fileName, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        self.fd = fd
        last = Mutex((0, 0))
    }

    deinit { close(fd) }

    /// Records `c`, whose bytes the caller has just fsync'd. Failures are ignored (a stale checkpoint is safe).
    func record(_ c: Checkpoint) {
        last.withLock { last in
            guard (c.segment, c.length) > last else { return }
            let bytes = c.encoded()
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            if n == Checkpoint.size { last = (c.segment, c.length) }
        }
    }
}
