#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few system calls the writer's data path makes, as values, so tests can inject faults (a full disk)
/// without root or special file systems. Each returns what the system call returns, with -errno on failure.
public struct FileIO: Sendable {
    /// write(2): bytes written (may be short), or -errno.
    public var write: @Sendable (_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int
    /// fsync(2): 0, or -errno.
    public var fsync: @Sendable (_ fd: Int32) -> Int32

    public init(write: @escaping @Sendable (Int32, UnsafeRawBufferPointer) -> Int,
                fsync: @escaping @Sendable (Int32) -> Int32) {
        self.write = write; self.fsync = fsync
    }

    /// The real system calls.
    public static let system = FileIO(
        write: { fd, bytes in
            let n = Glibc.write(fd, bytes.baseAddress, bytes.count)
            return n < 0 ? -Int(errno) : n
        },
        fsync: { fd in Glibc.fsync(fd) == 0 ? 0 : -errno })

    /// Writes all of `bytes`, retrying short writes and EINTR. Returns nil on success, the errno otherwise.
    func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
        var done = 0
        while done < bytes.count {
            let n = write(fd, UnsafeRawBufferPointer(rebasing: bytes[done...]))
            if n == -Int(EINTR) { continue }
            if n < 0 { return Int32(-n) }
            if n == 0 { return ENOSPC }
            done += n
        }
        return nil
    }
}

/// Small POSIX helpers shared by the writer, the reader and maintenance.
enum Posix {
    /// pread(2) exactly `count` bytes at `offset` into `buffer`; returns the bytes read (short only at end of file).
    static func readFully(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, count: Int, offset: UInt64) -> Int {
        var done = 0
        while done < count {
            let n = pread(fd, buffer + done, count - done, off_t(offset) + off_t(done))
            if n < 0 { if errno == EINTR { continue }; return done == 0 ? -Int(errno) : done }
            if n == 0 { break }
            done += n
        }
        return done
    }

    static func fileSize(_ fd: Int32) -> UInt64? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        return UInt64(st.st_size)
    }

    /// fsync of a directory, making creations, renames and unlinks inside it durable.
    static func syncDirectory(_ path: String) throws(LogError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open directory", path: path, errno: errno) }
        defer { close(fd) }
        guard Glibc.fsync(fd) == 0 else { throw .io(operation: "fsync directory", path: path, errno: errno) }
    }

    /// Names of the entries of a directory (without "." and "..").
    static func listDirectory(_ path: String) throws(LogError) -> [String] {
        guard let dir = opendir(path) else { throw .io(operation: "list", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Now as Unix microseconds.
    static func nowMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    /// A monotonic clock in nanoseconds, for intervals.
    static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
