import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written under a temporary name in the same directory and renamed into place by `commit()`, so the
/// final name only ever holds a complete export. Interrupting (SIGINT, SIGTERM, SIGHUP) removes the temporary
/// file before the process exits; `abort()` (or deinit without commit) removes it too.
///
/// Refuses to replace an existing file unless `overwrite`; the check is repeated at commit (link(2) without
/// overwrite), so a file created meanwhile is not clobbered either. Writes are buffered (256 KiB) and done by a
/// write-behind thread (at most two buffers in flight), so the kernel's copy of a large export overlaps making the
/// next bytes; a failed write is reported by the next `write` or by `commit`.
public final class AtomicOutput {
    public let path: String
    public let tempPath: String
    let overwrite: Bool
    var fd: Int32
    var buffer: [UInt8] = []
    var done = false
    let behind: WriteBehind
    public private(set) var bytesWritten: Int64 = 0

    public init(path: String, overwrite: Bool) throws {
        self.path = path
        self.overwrite = overwrite
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR {
                throw IndexError.invalidArgument("\(path) is a directory; give a file name for --output")
            }
            if !overwrite { throw IndexError.invalidArgument("\(path) already exists; add --force to overwrite it") }
        }
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        tempPath = (dir.isEmpty ? "" : dir + "/") + "." + base + ".part-\(getpid())"
        fd = open(tempPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let why = String(cString: strerror(errno))
            throw IndexError.invalidArgument("cannot write to \(dir.isEmpty ? "/" : dir): \(why)")
        }
        behind = WriteBehind(fd: fd)
        InterruptCleanup.register(tempPath)
        buffer.reserveCapacity(1 << 18)
    }

    deinit { if !done { abort() } }

    public func write(_ bytes: [UInt8]) throws {
        try check()
        if buffer.isEmpty && bytes.count >= 1 << 18 {
            // A large chunk goes as it is (no copy into the buffer).
            behind.submit(bytes)
            bytesWritten += Int64(bytes.count)
            return
        }
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 18 { handOff() }
    }

    func handOff() {
        guard !buffer.isEmpty else { return }
        behind.submit(buffer)
        bytesWritten += Int64(buffer.count)
        buffer = []
        buffer.reserveCapacity(1 << 18)
    }

    /// Throws the write-behind thread's failure, if any.
    func check() throws {
        if let e = behind.failure {
            throw IndexError.invalidArgument("writing \(path) failed: \(String(cString: strerror(e)))")
        }
    }

    /// Writes everything handed over and waits for it.
    func flush() throws {
        handOff()
        behind.drain()
        try check()
    }

    /// Flushes, fsyncs and renames the file into place.
    public func commit() throws {
        do { try flush() } catch { abort(); throw error }
        fsync(fd)
        close(fd)
        fd = -1
        if overwrite {
            guard rename(tempPath, path) == 0 else {
                let why = String(cString: strerror(errno))
                abort()
                throw IndexError.invalidArgument("cannot move the export into place at \(path): \(why)")
            }
        } else {
            guard link(tempPath, path) == 0 else {
                let e = errno
                abort()
                if e == EEXIST { throw IndexError.invalidArgument("\(path) appeared meanwhile; add --force to overwrite it") }
                throw IndexError.invalidArgument("cannot move the export into place at \(path): \(String(cString: strerror(e)))")
            }
            unlink(tempPath)
        }
        done = true
        InterruptCleanup.unregister(tempPath)
    }

    /// Removes the temporary file; the final name is untouched.
    public func abort() {
        behind.drain()
        if fd >= 0 { close(fd); fd = -1 }
        unlink(tempPath)
        done = true
        InterruptCleanup.unregister(tempPath)
    }
}

/// The write(2) calls of an `AtomicOutput`, on a serial queue: `submit` blocks while two buffers are in flight
/// (memory stays bounded); after the first failure the rest is dropped and `failure` holds its errno.
final class WriteBehind: @unchecked Sendable {
    let fd: Int32
    private let queue = DispatchQueue(label: "moonpalace.export.write")
    private let slots = DispatchSemaphore(value: 2)
    private let error = Mutex<Int32>(0)

    init(fd: Int32) { self.fd = fd }

    var failure: Int32? {
        let e = error.withLock { $0 }
        return e == 0 ? nil : e
    }

    func submit(_ bytes: [UInt8]) {
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            guard failure == nil else { return }
            let e = Self.writeAll(fd, bytes)
            if e != 0 { error.withLock { $0 = e } }
        }
    }

    /// Returns once every submitted buffer is written (or dropped after a failure).
    func drain() { queue.sync {} }

    /// Writes all of `bytes`; 0 or the errno that stopped it.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBytes { b in
            var off = 0
            while off < b.count {
                guard let base = b.baseAddress else { return 0 }
                let n = Glibc.write(fd, base + off, b.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                off += n
            }
            return 0
        }
    }
}

/// Removes registered temporary files when the process is interrupted, then exits with 128 + signal.
/// The handler only calls unlink(2) and _exit(2) (async-signal-safe) on paths kept as C strings.
enum InterruptCleanup {
    static let slots = 8
    nonisolated(unsafe) static let paths: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let p = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: slots)
        p.initialize(repeating: nil, count: slots)
        return p
    }()
    static let lock = Mutex(false)

    static func register(_ path: String) {
        lock.withLock { installed in
            if !installed {
                installed = true
                for sig in [SIGINT, SIGTERM, SIGHUP] { signal(sig, interruptCleanupHandler) }
            }
            for i in 0..<slots where paths[i] == nil {
                paths[i] = strdup(path)
                return
            }
        }
    }

    static func unregister(_ path: String) {
        lock.withLock { _ in
            for i in 0..<slots {
                if let p = paths[i], String(cString: p) == path { paths[i] = nil; free(p) }
            }
        }
    }
}

private func interruptCleanupHandler(_ sig: Int32) {
    for i in 0..<InterruptCleanup.slots {
        if let p = InterruptCleanup.paths[i] { unlink(p) }
    }
    _exit(128 + sig)
}
