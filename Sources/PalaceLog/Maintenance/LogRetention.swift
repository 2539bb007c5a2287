#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Drops whole sealed segments, oldest first. The active (last) segment is never touched, so a running writer
/// is unaffected and exchange ids stay dense (the writer reads them from the active segment only).
public enum LogRetention {
    public struct Policy: Sendable {
        /// Drop sealed segments whose newest record is older than this many seconds (nil: no age limit).
        public var maxAge: Double?
        /// Drop the oldest sealed segments while the log's files exceed this many bytes (nil: no size limit).
        public var maxTotalBytes: UInt64?
        public init(maxAge: Double? = nil, maxTotalBytes: UInt64? = nil) {
            self.maxAge = maxAge; self.maxTotalBytes = maxTotalBytes
        }
    }

    /// Applies `policy`; returns the base sequence numbers of the removed segments. Segments are unlinked
    /// oldest first (the log stays a contiguous suffix at every moment), then the directory is fsync'd.
    @discardableResult
    public static func apply(directory: String, policy: Policy, now: Int64? = nil) throws(LogError) -> [UInt64] {
        let now = now ?? Posix.nowMicros()
        let bases = try SegmentName.list(directory)
        guard bases.count > 1 else { return [] }
        var sizes: [UInt64] = []
        var total: UInt64 = 0
        for b in bases {
            var st = stat()
            let size = stat(SegmentName.path(directory, b), &st) == 0 ? UInt64(st.st_size) : 0
            sizes.append(size); total += size
        }
        var removed: [UInt64] = []
        for (i, base) in bases.dropLast().enumerated() {
            var drop = false
            if let limit = policy.maxTotalBytes, total > limit { drop = true }
            if !drop, let age = policy.maxAge {
                // A segment's newest record is no newer than the next segment's creation.
                if let newest = try? SegmentScanner(directory: directory, base: bases[i + 1], isLast: false).header.createdAt,
                   Double(now - newest) / 1e6 > age { drop = true }
            }
            guard drop else { break }
            let path = SegmentName.path(directory, base)
            guard unlink(path) == 0 || errno == ENOENT else { throw .io(operation: "remove", path: path, errno: errno) }
            total -= sizes[i]
            removed.append(base)
        }
        if !removed.isEmpty { try Posix.syncDirectory(directory) }
        return removed
    }
}
