#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PalaceLog
import PalaceWire
import Synchronization

/// `--auto-cache` (reference §9, without its bugs): for a long chat prompt, reuse the context cache that covers
/// most of it, or create one, and send `X-Msh-Context-Cache` + `X-Msh-Context-Cache-Reset-TTL` upstream.
///
/// Promises: a caching failure never fails the user's call (it goes uncached and the log block says why); two
/// requests with the same new prefix create one cache (single flight), never a race; the cache's model family
/// comes from the request; a cache the API reports gone is forgotten at once (`forget`), and the exchange is
/// retried without it by the handler; caches unused for `cleanupSeconds` are deleted upstream too (when this process
/// knows their key — keys live in memory only) and forgotten; the mapping survives restarts (`CacheMap`).
public final class AutoCache: Sendable {
    static let apiTimeoutSeconds = 15

    let settings: AutoCacheSettings
    let fixedKey: String?
    let api: CachingAPI
    let map: CacheMap
    let log: StderrLog
    private let keys = Mutex<[String: String]>([:])
    private let flights = Mutex<[String: Task<Result<String, CacheFailure>, Never>]>([:])

    struct Outcome: Sendable {
        var headers: [HeaderField] = []
        var note: String?
        var cacheID: String?
    }

    struct CacheFailure: Error, Sendable { var reason: String }

    init(settings: AutoCacheSettings, endpoint: String, key: String?, loop: CurlLoop, log: StderrLog) {
        self.settings = settings
        self.fixedKey = key
        self.api = CachingAPI(loop: loop, endpoint: endpoint, timeoutSeconds: Self.apiTimeoutSeconds)
        self.log = log
        self.map = CacheMap(path: settings.statePath) { problem in log.log(log.style.boldYellow(problem)) }
        let interval = Double(min(60, max(1, settings.cleanupSeconds / 4)))
        Task { [weak self] in
            while true {
                try? await Task.sleep(for: .seconds(interval))
                guard let self else { return }
                await self.cleanup()
            }
        }
    }

    /// Decides the cache headers for one request body (`authorization` = the client's header value).
    func prepare(body: [UInt8], authorization: String?) async -> Outcome {
        guard let prefix = PromptPrefix(body: body, minBytes: settings.minBytes), let last = prefix.points.last else {
            return Outcome()   // not a cacheable chat request, or a prompt within --cache-min-bytes
        }
        guard let key = fixedKey ?? Self.bearer(authorization) else {
            return Outcome(note: "auto-cache: the request carries no API key, so no cache was created or used")
        }
        let identity = FNV128.hex(key)
        keys.withLock { $0[identity] = key }
        let now = Self.now()
        if let hit = map.best(for: prefix, keyIdentity: identity) {
            map.touch(hit.cacheID, at: now)
            return Outcome(headers: headers(hit.cacheID), cacheID: hit.cacheID)
        }
        let flightKey = identity + ":" + last.hash
        let (task, owner) = flights.withLock { f -> (Task<Result<String, CacheFailure>, Never>, Bool) in
            if let running = f[flightKey] { return (running, false) }
            let t = Task { await self.create(prefix: prefix, point: last, key: key, identity: identity) }
            f[flightKey] = t
            return (t, true)
        }
        let result = await task.value
        if owner { _ = flights.withLock { $0.removeValue(forKey: flightKey) } }
        switch result {
        case .success(let id): return Outcome(headers: headers(id), cacheID: id)
        case .failure(let failure): return Outcome(note: "auto-cache: \(failure.reason); the call went uncached")
        }
    }

    /// The API said `cacheID` is gone: forget it at once (the next request creates a fresh one).
    func forget(_ cacheID: String) {
        _ = try? map.remove(cacheID)
    }

    /// Deletes (upstream, then locally) the caches unused for `cleanupSeconds`; returns how many were forgotten.
    @discardableResult
    func cleanup(now: Int64 = AutoCache.now()) async -> Int {
        let stale = map.all.filter { now - $0.lastUsedAt >= Int64(settings.cleanupSeconds) }
        var forgotten = 0
        for entry in stale {
            if let key = keys.withLock({ $0[entry.keyIdentity] }) {
                switch await api.delete(entry.cacheID, key: key) {
                case .success(let reply) where (200..<300).contains(reply.status) || reply.status == 404: break
                case .success(let reply):
                    log.log(log.style.boldYellow("auto-cache: deleting unused cache \(entry.cacheID) failed "
                        + "(HTTP \(reply.status): \(reply.message)); will retry"))
                    continue
                case .failure(let failure):
                    log.log(log.style.boldYellow("auto-cache: deleting unused cache \(entry.cacheID) failed (\(failure)); will retry"))
                    continue
                }
            }
            // Without the key (a previous run's cache) it cannot be deleted upstream; it expires there by its TTL.
            if (try? map.remove(entry.cacheID)) == true { forgotten += 1 }
        }
        do { try map.flush() } catch {
            log.log(log.style.boldYellow("auto-cache: the mapping file could not be written (\(error)); will retry"))
        }
        if forgotten > 0 {
            log.log("auto-cache: forgot \(forgotten) context cache\(forgotten == 1 ? "" : "s") unused for "
                + "\(settings.cleanupSeconds) s (deleted upstream where this run knows the key)")
        }
        return forgotten
    }

    private func create(prefix: PromptPrefix, point: PromptPrefix.Point, key: String, identity: String) async -> Result<String, CacheFailure> {
        let messages = Array(prefix.messages.prefix(point.messageCount))
        switch await api.create(family: prefix.family, messages: messages, tools: prefix.tools, ttl: settings.ttlSeconds, key: key) {
        case .failure(let failure):
            return .failure(CacheFailure(reason: "creating a context cache failed (\(failure))"))
        case .success(let reply):
            guard (200..<300).contains(reply.status), let id = reply.json?["id"]?.stringValue, !id.isEmpty else {
                return .failure(CacheFailure(reason: "creating a context cache failed (HTTP \(reply.status): \(reply.message))"))
            }
            let now = Self.now()
            do {
                try map.insert(CacheMap.Entry(cacheID: id, hash: point.hash, bytes: point.bytes, keyIdentity: identity,
                                              family: prefix.family, createdAt: now, lastUsedAt: now))
            } catch {
                // Usable now, but not remembered: say so (the next run may create another one).
                log.log(log.style.boldYellow("auto-cache: cache \(id) created but the mapping file could not be written: \(error)"))
            }
            return .success(id)
        }
    }

    private func headers(_ cacheID: String) -> [HeaderField] {
        [HeaderField(name: "X-Msh-Context-Cache", value: cacheID),
         HeaderField(name: "X-Msh-Context-Cache-Reset-TTL", value: String(settings.ttlSeconds))]
    }

    /// Whether an upstream error answer says the cache we sent is unknown or unusable.
    static func rejects(_ cacheID: String, status: Int, body: [UInt8]) -> Bool {
        guard (400..<500).contains(status), status != 401, status != 429 else { return false }
        let text = String(decoding: body.prefix(64 << 10), as: UTF8.self).lowercased()
        return text.contains(cacheID.lowercased()) || text.contains("cache")
    }

    static func bearer(_ authorization: String?) -> String? {
        guard var value = authorization?.trimmingCharacters(in: " \t") else { return nil }
        if value.lowercased().hasPrefix("bearer ") { value = String(value.dropFirst(7)).trimmingCharacters(in: " \t") }
        return value.isEmpty ? nil : value
    }

    static func now() -> Int64 { Int64(time(nil)) }
}
