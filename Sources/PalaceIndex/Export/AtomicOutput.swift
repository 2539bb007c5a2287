import CPalaceText
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
/// write-behind thread (at most two buffers in flight; `WriteBehind`: whole 1 MiB blocks with O_DIRECT), so
/// writing a large export overlaps making the next bytes; a failed write is reported by the next `write` or by
/// `commit`.
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
        behind.finish()
        try check()
        // The last block may have been padded to 4 KiB (O_DIRECT that could not be cleared).
        if ftruncate(fd, off_t(bytesWritten)) != 0 {
            throw IndexError.invalidArgument("writing \(path) failed: \(String(cString: strerror(errno)))")
        }
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
///
/// The queue gathers the bytes into one 1 MiB page-aligned block and writes whole blocks with O_DIRECT where the
/// file system takes it: a multi-GB export then goes from this buffer to the disk, without the kernel copying it
/// into the page cache (a quarter of a JSONL export's CPU) and without the dirty pages `commit`'s fsync would
/// otherwise wait for (measured here: 1.5 GB/s direct against 0.19 GB/s buffered + fsync). The first direct
/// write happens at the first full block (offset 0), so small files (case exports) never use it; the last,
/// partial block is written direct up to its last whole 4 KiB and the rest after clearing O_DIRECT. EINVAL from
/// a direct write (a file system without it) switches back to buffered writes for the rest of the file.
final class WriteBehind: @unchecked Sendable {
    let fd: Int32
    private let queue = DispatchQueue(label: "moonpalace.export.write")
    private let slots = DispatchSemaphore(value: 2)
    private let error = Mutex<Int32>(0)
    static let blockSize = 1 << 20
    static let alignment = 4096
    // Touched on `queue` only.
    private let block: UnsafeMutableRawPointer
    private var filled = 0
    private var direct = false
    private var directUnavailable = palace_o_direct_flag() == 0

    init(fd: Int32) {
        self.fd = fd
        block = UnsafeMutableRawPointer.allocate(byteCount: Self.blockSize, alignment: Self.alignment)
    }

    deinit { block.deallocate() }

    var failure: Int32? {
        let e = error.withLock { $0 }
        return e == 0 ? nil : e
    }

    func submit(_ bytes: [UInt8]) {
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            guard failure == nil else { return }
            bytes.withUnsafeBytes { src in
                var off = 0
                while off < src.count, failure == nil {
                    let n = min(src.count - off, Self.blockSize - filled)
                    if let base = src.baseAddress { (block + filled).copyMemory(from: base + off, byteCount: n) }
                    filled += n
                    off += n
                    if filled == Self.blockSize { writeBlock() }
                }
            }
        }
    }

    /// Writes the full block (direct when possible).
    private func writeBlock() {
        if !direct && !directUnavailable {
            direct = setDirect(true)
            if !direct { directUnavailable = true }
        }
        write(block, filled)
        filled = 0
    }

    /// Writes `count` bytes at `p`; a direct write the file system refuses (EINVAL) is retried buffered.
    private func write(_ p: UnsafeRawPointer, _ count: Int) {
        var (e, done) = Self.writeAll(fd, p, count)
        if e == EINVAL && direct {
            direct = false
            directUnavailable = true
            _ = setDirect(false)
            (e, _) = Self.writeAll(fd, p + done, count - done)
        }
        if e != 0 { error.withLock { $0 = e } }
    }

    private func setDirect(_ on: Bool) -> Bool {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0 else { return false }
        let d = palace_o_direct_flag()
        return fcntl(fd, F_SETFL, on ? flags | d : flags & ~d) == 0
    }

    /// Writes what the block holds and returns once everything submitted is written (or dropped after a failure).
    func finish() {
        queue.sync {
            guard failure == nil, filled > 0 else { filled = 0; return }
            let whole = direct ? filled & ~(Self.alignment - 1) : 0
            if whole > 0 { write(block, whole) }
            if direct && setDirect(false) { direct = false }
            if failure == nil, filled > whole {
                if direct {
                    // O_DIRECT could not be cleared: pad to a whole 4 KiB block; commit truncates to the size.
                    let padded = (filled - whole + Self.alignment - 1) & ~(Self.alignment - 1)
                    (block + filled).initializeMemory(as: UInt8.self, repeating: 0, count: whole + padded - filled)
                    write(block + whole, padded)
                } else {
                    write(block + whole, filled - whole)
                }
            }
            filled = 0
        }
    }

    /// Returns once every submitted buffer is written (or dropped after a failure).
    func drain() { queue.sync {} }

    /// Writes all of `count` bytes at `p`; 0 or the errno that stopped it, and the bytes written before.
    static func writeAll(_ fd: Int32, _ p: UnsafeRawPointer, _ count: Int) -> (Int32, Int) {
        var off = 0
        while off < count {
            let n = Glibc.write(fd, p + off, count - off)
            if n < 0 {
                if errno == EINTR { continue }
                return (errno, off)
            }
            off += n
        }
        return (0, off)
    }
}

/// The allocator setting for a process whose work is one large export (the CLI's `export`; not a server, whose
/// memory should go back to the system): freed group buffers (a few MB each) stay in malloc's heaps instead of
/// being unmapped and faulted in again page by page (152,000 page faults in a JSONL export of 100,000 exchanges,
/// 30,000 with this). Memory stays bounded by the pipeline (about 40 MB more peak RSS), whatever the number
/// exported.
public enum ExportAllocator {
    public static func keepFreedMemory() {
        palace_keep_freed_memory()
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
