#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PalaceIndex
import PalaceLog
import Synchronization

/// Keeps the index caught up with the log and tells live pages which exchanges appeared or changed.
///
/// One task polls every `interval`: when the newest segment file changed size (a cheap `stat`, no log read), it
/// catches the index up, then compares the newest rows (and every row it saw in flight) with what it saw last
/// time, and hands the ids that are new or changed (state, status, category, tags) to each subscriber. A new
/// exchange therefore reaches a browser within about one interval plus one catch-up after its end record is on
/// the log. Subscribers filter the ids by their own page's query.
final class LiveFeed: Sendable {
    let pool: IndexPool
    let interval: Duration
    let notice: @Sendable (String) -> Void
    /// Nobody listening and the index kept current by someone else (`WebOptions.indexKeptCurrent`): no work.
    let idleWithoutSubscribers: Bool

    private struct State {
        var subscribers: [Int: AsyncStream<[Int64]>.Continuation] = [:]
        var nextSubscriber = 0
        var known: [Int64: String] = [:]
        var primed = false
        var signature = ""
        var forceCatchUp = true
        var lastError = ""
    }
    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)
    static let window = 100

    init(pool: IndexPool, interval: Duration, idleWithoutSubscribers: Bool = false,
         notice: @escaping @Sendable (String) -> Void) {
        self.pool = pool
        self.interval = interval
        self.idleWithoutSubscribers = idleWithoutSubscribers
        self.notice = notice
    }

    func start() {
        task.withLock { t in
            guard t == nil else { return }
            t = Task { [self] in await self.loop() }
        }
    }

    func stop() {
        task.withLock { $0?.cancel(); $0 = nil }
        state.withLock { s in
            for c in s.subscribers.values { c.finish() }
            s.subscribers = [:]
        }
    }

    /// A stream of changed-id batches; ends when the feed stops. Cancel by dropping the iterator (the
    /// termination handler unsubscribes).
    func subscribe() -> AsyncStream<[Int64]> {
        let (stream, continuation) = AsyncStream.makeStream(of: [Int64].self, bufferingPolicy: .bufferingNewest(64))
        let key = state.withLock { s in
            let k = s.nextSubscriber
            s.nextSubscriber += 1
            s.subscribers[k] = continuation
            return k
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: key) }
        }
        return stream
    }

    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Makes the next tick catch up even if the log looks unchanged (after this process wrote an annotation).
    func catchUpNow() async {
        state.withLock { $0.forceCatchUp = true }
        await tick(evenUnwatched: true)
    }

    private func loop() async {
        var lastBeat = ContinuousClock.now
        while !Task.isCancelled {
            await tick()
            // An empty batch every 15 s: pages write a comment, which also finds connections that went away.
            if ContinuousClock.now - lastBeat > .seconds(15) {
                lastBeat = ContinuousClock.now
                for c in state.withLock({ Array($0.subscribers.values) }) { c.yield([]) }
            }
            try? await Task.sleep(for: interval)
        }
    }

    func tick(evenUnwatched: Bool = false) async {
        if idleWithoutSubscribers && !evenUnwatched && subscriberCount == 0 {
            // What it knew goes stale while nobody listens: the next subscriber's first tick primes it afresh
            // (as of that moment, like a page's own render) and only later changes are sent.
            state.withLock { s in s.primed = false; s.known = [:]; s.forceCatchUp = true }
            return
        }
        let signature = Self.logSignature(pool.dataDirectory.logDirectory)
        let mustCatchUp = state.withLock { s -> Bool in
            let r = s.forceCatchUp || s.signature != signature
            s.forceCatchUp = false
            s.signature = signature
            return r
        }
        let hasSubscribers = subscriberCount > 0
        guard mustCatchUp || (hasSubscribers && !state.withLock { $0.primed }) else { return }
        let known = state.withLock { $0.known }
        do {
            let (fresh, changed) = try await pool.run { index -> ([Int64: String], [Int64]) in
                if mustCatchUp { try index.catchUp() }
                var fresh: [Int64: String] = [:]
                var changed: [Int64] = []
                for s in try index.list(ListQuery(limit: Self.window)) {
                    let f = Self.fingerprint(s)
                    fresh[s.id] = f
                    if known[s.id] != f { changed.append(s.id) }
                }
                // Rows seen open that dropped out of the window still deserve their final state.
                for (id, f) in known where fresh[id] == nil && f.hasPrefix("in_flight") {
                    if let s = try index.summary(id: id) {
                        let nf = Self.fingerprint(s)
                        if nf != f { changed.append(id) }
                        if s.state == "in_flight" { fresh[id] = nf }
                    }
                }
                return (fresh, changed)
            }
            let subscribers = state.withLock { s -> [AsyncStream<[Int64]>.Continuation] in
                let wasPrimed = s.primed
                s.known = fresh
                s.primed = true
                s.lastError = ""
                return wasPrimed ? Array(s.subscribers.values) : []
            }
            if !changed.isEmpty { for c in subscribers { c.yield(changed.sorted()) } }
        } catch {
            let text = "\(error)"
            let isNew = state.withLock { s -> Bool in
                defer { s.lastError = text; s.forceCatchUp = true }
                return s.lastError != text
            }
            if isNew { notice("web: index catch-up failed: \(text) (will retry)") }
        }
    }

    static func fingerprint(_ s: ExchangeSummary) -> String {
        "\(s.state)|\(s.status ?? -1)|\(s.category ?? "")|\(s.tags.joined(separator: ","))"
    }

    /// Name and size of the newest segment file: changes whenever a record is appended or a segment rolls.
    static func logSignature(_ logDirectory: String) -> String {
        guard let d = opendir(logDirectory) else { return "" }
        defer { closedir(d) }
        var newest = ""
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if SegmentName.base(of: name) != nil && name > newest { newest = name }
        }
        guard !newest.isEmpty else { return "" }
        var st = stat()
        guard stat(logDirectory + "/" + newest, &st) == 0 else { return newest }
        return newest + ":" + String(st.st_size)
    }
}
