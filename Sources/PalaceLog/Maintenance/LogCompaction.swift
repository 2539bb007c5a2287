#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rewrites sealed segments keeping only the records a predicate keeps (e.g. dropping tombstoned exchanges).
///
/// Atomicity: each segment is rewritten into `<name>.tmp` (kept frames copied byte for byte, so sequence numbers,
/// timestamps and CRCs are unchanged), fsync'd, then renamed over the original and the directory fsync'd.
/// rename(2) is atomic, so a crash at any point leaves every segment either wholly old or wholly new; a leftover
/// `.tmp` is deleted by the next writer open or compaction. The active (last) segment is never rewritten.
/// Record positions inside a rewritten segment change; sequence numbers do not.
public enum LogCompaction {
    public struct Result: Sendable {
        public var segmentsRewritten = 0
        public var recordsDropped = 0
        public var bytesReclaimed: UInt64 = 0
    }

    /// Compacts every sealed segment of `directory`. `keep` sees each decoded record; records that cannot be
    /// decoded (unknown types, damage) are kept as they are, never silently dropped.
    public static func compact(directory: String, keep: (StoredRecord) -> Bool) throws(LogError) -> Result {
        for name in try Posix.listDirectory(directory) where name.hasSuffix(SegmentName.suffix + SegmentName.temporarySuffix) {
            unlink(directory + "/" + name)
        }
        var result = Result()
        let bases = try SegmentName.list(directory)
        for base in bases.dropLast() {
            try compactSegment(directory: directory, base: base, keep: keep, result: &result)
        }
        return result
    }

    private static func compactSegment(directory: String, base: UInt64, keep: (StoredRecord) -> Bool,
                                       result: inout Result) throws(LogError) {
        let s = try SegmentScanner(directory: directory, base: base, isLast: false)
        var out = s.header.encoded()
        var scratch: [UInt8] = []
        var dropped = 0
        while let event = s.next() {
            guard case .frame(let h, let offset, let frame) = event else { continue }  // damage is left behind
            let position = RecordPosition(segment: base, offset: offset)
            if let rec = try? FrameDecoder.decode(h, frame: frame, position: position, scratch: &scratch), !keep(rec) {
                dropped += 1
                continue
            }
            out.append(contentsOf: frame)
        }
        let path = SegmentName.path(directory, base)
        guard dropped > 0 || out.count != Int(s.fileSize) else { return }
        let tmp = path + SegmentName.temporarySuffix
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(operation: "create", path: tmp, errno: errno) }
        if let e = out.withUnsafeBytes({ FileIO.system.writeAll(fd, $0) }) {
            close(fd); unlink(tmp)
            throw e == ENOSPC ? .diskFull(path: tmp) : .io(operation: "write", path: tmp, errno: e)
        }
        guard fsync(fd) == 0 else { let e = errno; close(fd); unlink(tmp); throw .io(operation: "fsync", path: tmp, errno: e) }
        close(fd)
        guard rename(tmp, path) == 0 else { let e = errno; unlink(tmp); throw .io(operation: "rename", path: tmp, errno: e) }
        try Posix.syncDirectory(directory)
        result.segmentsRewritten += 1
        result.recordsDropped += dropped
        result.bytesReclaimed += s.fileSize - UInt64(out.count)
    }
}
