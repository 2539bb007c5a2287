#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What scanning a segment finds, in file order.
enum ScanEvent {
    /// A frame whose CRC verifies. `frame` (header + stored payload) is valid until the next call to `next()`.
    case frame(FrameHeader, offset: UInt64, frame: UnsafeRawBufferPointer)
    /// Bytes that are not valid frames, followed by a valid frame (or, in a sealed segment, by the end of file).
    case damage(offset: UInt64, length: UInt64)
    /// Invalid bytes at the end of the last segment with no valid frame after them: a write cut short.
    case tornTail(offset: UInt64, length: UInt64)
}

/// Reads one segment file frame by frame through a read-ahead window, verifying each CRC. After an invalid
/// frame it resynchronises: it searches for the next sync marker that starts a frame with a valid CRC.
/// Not thread-safe; one scanner per reader. Read-only: never modifies the file.
final class SegmentScanner {
    let path: String
    let base: UInt64
    let header: SegmentHeader
    /// The last segment of the log may end in a torn write; other segments end exactly after a frame.
    let isLast: Bool
    private(set) var fileSize: UInt64
    /// Offset of the next frame to examine.
    private(set) var position: UInt64

    private let fd: Int32
    private var window: UnsafeMutableRawBufferPointer
    private var windowStart: UInt64 = 0
    private var windowCount = 0

    init(directory: String, base: UInt64, isLast: Bool) throws(LogError) {
        path = SegmentName.path(directory, base)
        self.base = base
        self.isLast = isLast
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        self.fd = fd
        window = .allocate(byteCount: 1 << 20, alignment: 16)
        fileSize = Posix.fileSize(fd) ?? 0
        var raw = [UInt8](repeating: 0, count: SegmentHeader.size)
        let n = raw.withUnsafeMutableBytes { Posix.readFully(fd, $0.baseAddress!, count: SegmentHeader.size, offset: 0) }
        let decoded = raw.withUnsafeBytes { b in
            Result { () throws(SegmentHeader.Problem) in
                try SegmentHeader.decode(UnsafeRawBufferPointer(rebasing: b[0..<max(0, n)]))
            }
        }
        switch decoded {
        case .success(let h): header = h
        case .failure(let problem):
            close(fd); window.deallocate()
            throw .badSegmentHeader(path: path, reason: problem.description)
        }
        position = UInt64(header.headerSize)
    }

    deinit {
        close(fd)
        window.deallocate()
    }

    func seek(to offset: UInt64) { position = max(offset, UInt64(header.headerSize)) }

    /// Re-reads the file size (a writer may have appended); returns whether it grew.
    @discardableResult
    func refreshSize() -> Bool {
        let old = fileSize
        fileSize = Posix.fileSize(fd) ?? fileSize
        if fileSize < old { windowCount = 0 }  // truncated under us: drop the cached window
        return fileSize > old
    }

    /// The bytes [offset, offset + count) of the file, reading ahead into the window; nil past the end of file.
    private func bytes(_ offset: UInt64, _ count: Int) -> UnsafeRawBufferPointer? {
        guard offset + UInt64(count) <= fileSize else { return nil }
        if offset >= windowStart, offset + UInt64(count) <= windowStart + UInt64(windowCount) {
            let start = Int(offset - windowStart)
            return UnsafeRawBufferPointer(rebasing: window[start..<(start + count)])
        }
        if count > window.count {
            window.deallocate()
            window = .allocate(byteCount: (count + 0xFFFF) & ~0xFFFF, alignment: 16)
        }
        let want = Int(min(UInt64(window.count), fileSize - offset))
        let n = Posix.readFully(fd, window.baseAddress!, count: want, offset: offset)
        windowStart = offset
        windowCount = max(0, n)
        guard n >= count else { return nil }
        return UnsafeRawBufferPointer(rebasing: window[0..<count])
    }

    /// The header of a valid frame starting at `offset`, or nil.
    func validFrame(at offset: UInt64) -> (FrameHeader, UnsafeRawBufferPointer)? {
        guard let hb = bytes(offset, FrameHeader.size), let h = FrameHeader.parse(hb),
              let frame = bytes(offset, h.frameLength), FrameHeader.checksumMatches(frame, h) else { return nil }
        return (h, frame)
    }

    /// The offset of the next valid frame strictly after `offset`, or nil.
    func resync(after offset: UInt64) -> UInt64? {
        var q = offset + 1
        while q + UInt64(FrameHeader.size) <= fileSize {
            let span = Int(min(fileSize - q, 1 << 20))
            guard let chunk = bytes(q, span) else { return nil }
            var candidate: UInt64?
            var i = 0
            while i + 4 <= chunk.count {
                guard let hit = memchr(chunk.baseAddress! + i, 0xFE, chunk.count - i - 3) else { break }
                i = chunk.baseAddress!.distance(to: UnsafeRawPointer(hit))
                if chunk.le(UInt32.self, i) == FrameHeader.syncValue { candidate = q + UInt64(i); break }
                i += 1
            }
            if let c = candidate {
                if validFrame(at: c) != nil { return c }
                q = c + 1
            } else {
                q += UInt64(max(1, span - 3))
            }
        }
        return nil
    }

    /// The next event, or nil at the end of the file.
    func next() -> ScanEvent? {
        guard position < fileSize else { return nil }
        let at = position
        if let (h, frame) = validFrame(at: at) {
            position = at + UInt64(h.frameLength)
            return .frame(h, offset: at, frame: frame)
        }
        if let good = resync(after: at) {
            position = good
            return .damage(offset: at, length: good - at)
        }
        position = fileSize
        return isLast ? .tornTail(offset: at, length: fileSize - at) : .damage(offset: at, length: fileSize - at)
    }
}
