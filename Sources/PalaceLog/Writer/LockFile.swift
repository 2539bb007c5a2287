#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `<log>/LOCK`: an exclusive flock(2) held by the one writer of a log directory, with its pid inside so a
/// refused second writer can say who holds it. The kernel drops the lock when the process dies (kill -9 too).
final class LockFile {
    static let name = "LOCK"
    private let fd: Int32

    init(directory: String) throws(LogError) {
        let path = directory + "/" + Self.name
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(operation: "open lock file", path: path, errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            let pid = Self.readPID(fd)
            close(fd)
            if e == EWOULDBLOCK { throw .locked(directory: directory, pid: pid) }
            throw .io(operation: "lock", path: path, errno: e)
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.fd = fd
    }

    /// The pid a lock file names, if readable.
    static func readPID(_ fd: Int32) -> Int32? {
        var buf = [UInt8](repeating: 0, count: 32)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 31, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: buf[0..<n], as: UTF8.self).trimmingWhitespace())
    }

    /// Releases the lock (also released when the process exits).
    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        String(self.drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
