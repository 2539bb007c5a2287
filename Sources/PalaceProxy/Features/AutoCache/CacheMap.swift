#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PalaceWire
import Synchronization

/// The prefix → context-cache mapping of auto-cache, shared by every exchange and kept across restarts in a JSON
/// file of the data directory (written whole to a temporary file, then renamed: a crash leaves the old or the new).
///
/// Invariants: every operation is one critical section under a `Mutex` (no shared scratch buffers — MoonPalace's
/// pooled hash list let concurrent requests overwrite each other's hashes); API keys are never stored, only their
/// FNV-1a-128 identity.
final class CacheMap: Sendable {
    struct Entry: Sendable, Equatable {
        var cacheID: String
        var hash: String
        var bytes: Int
        var keyIdentity: String
        var family: String
        var createdAt: Int64      // Unix seconds
        var lastUsedAt: Int64
    }

    let path: String
    private let entries = Mutex<[Entry]>([])
    /// Uses (`touch`) not yet written: they only move cleanup times, so they are written by `flush()` (the
    /// cleanup tick) rather than with an fsync on every cache hit.
    private let dirty = Atomic<Bool>(false)

    /// Loads `path`; a missing file is an empty map; an unreadable one is reported through `problem` and set aside.
    init(path: String, problem: (String) -> Void) {
        self.path = path
        guard let bytes = Self.read(path) else { return }
        do {
            let value = try JSONValue.parse(bytes)
            guard case .array(let items)? = value["caches"] else { throw CacheMapError.shape }
            var loaded: [Entry] = []
            for item in items {
                guard let id = item["cache_id"]?.stringValue, let hash = item["hash"]?.stringValue,
                      let bytes = item["bytes"]?.intValue, let key = item["key_identity"]?.stringValue,
                      let family = item["model"]?.stringValue, let created = item["created_at"]?.intValue,
                      let used = item["last_used_at"]?.intValue else { throw CacheMapError.shape }
                loaded.append(Entry(cacheID: id, hash: hash, bytes: bytes, keyIdentity: key, family: family,
                                    createdAt: Int64(created), lastUsedAt: Int64(used)))
            }
            entries.withLock { $0 = loaded }
        } catch {
            _ = rename(path, path + ".unreadable")
            problem("auto-cache: \(path) could not be read (\(error)); set aside as \(path).unreadable, starting empty")
        }
    }

    var all: [Entry] { entries.withLock { $0 } }

    /// The entry covering the most of this prompt: same key and model family, hash among `points`, and more than
    /// half of the prompt's bytes (so a conversation that doubled gets a new, larger cache).
    func best(for prefix: PromptPrefix, keyIdentity: String) -> Entry? {
        let hashes = Set(prefix.points.map(\.hash))
        return entries.withLock { list in
            list.filter { $0.keyIdentity == keyIdentity && $0.family == prefix.family && hashes.contains($0.hash)
                && $0.bytes > prefix.totalBytes / 2 }
                .max { $0.bytes < $1.bytes }
        }
    }

    func insert(_ entry: Entry) throws(CacheMapError) {
        try change { $0.removeAll { $0.cacheID == entry.cacheID }; $0.append(entry) }
    }

    /// Records a use in memory; `flush()` writes it.
    func touch(_ cacheID: String, at now: Int64) {
        entries.withLock { list in
            for i in list.indices where list[i].cacheID == cacheID { list[i].lastUsedAt = now }
        }
        dirty.store(true, ordering: .relaxed)
    }

    /// Writes pending uses, if any.
    func flush() throws(CacheMapError) {
        guard dirty.exchange(false, ordering: .relaxed) else { return }
        try change { _ in }
    }

    /// Forgets `cacheID`; returns whether it was known.
    @discardableResult
    func remove(_ cacheID: String) throws(CacheMapError) -> Bool {
        var found = false
        try change { list in
            found = list.contains { $0.cacheID == cacheID }
            list.removeAll { $0.cacheID == cacheID }
        }
        return found
    }

    /// Applies `edit` and writes the file, in one critical section (so writes land in the order of the edits).
    private func change(_ edit: (inout [Entry]) -> Void) throws(CacheMapError) {
        let result: Result<Void, CacheMapError> = entries.withLock { list in
            edit(&list)
            dirty.store(false, ordering: .relaxed)
            return Self.write(list, to: path)
        }
        try result.get()
    }

    private static func write(_ list: [Entry], to path: String) -> Result<Void, CacheMapError> {
        let items: [JSONValue] = list.map { e in
            var o = JSONObject()
            o.set("cache_id", .string(e.cacheID))
            o.set("hash", .string(e.hash))
            o.set("bytes", .number(e.bytes))
            o.set("key_identity", .string(e.keyIdentity))
            o.set("model", .string(e.family))
            o.set("created_at", .number(Int(e.createdAt)))
            o.set("last_used_at", .number(Int(e.lastUsedAt)))
            return .object(o)
        }
        var root = JSONObject()
        root.set("version", .number(1))
        root.set("caches", .array(items))
        var bytes = JSONValue.object(root).serializedBytes(pretty: true)
        bytes.append(0x0A)
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return .failure(.io("create \(temp)", errno)) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { let e = errno; close(fd); return .failure(.io("write \(temp)", e)) }
            done += n
        }
        guard fsync(fd) == 0 else { let e = errno; close(fd); return .failure(.io("fsync \(temp)", e)) }
        close(fd)
        guard rename(temp, path) == 0 else { return .failure(.io("rename \(temp)", errno)) }
        return .success(())
    }

    private static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return out
    }
}

enum CacheMapError: Error, CustomStringConvertible {
    case shape
    case io(String, Int32)

    var description: String {
        switch self {
        case .shape: return "not a moonpalace context-cache map (expected {\"caches\": [...]})"
        case .io(let what, let code): return "cannot \(what): \(String(cString: strerror(code)))"
        }
    }
}
