import Hummingbird
import NIOCore
import NIOPosix
import PalaceLog
import Synchronization

/// One upstream HTTP call, as `ExchangeHandler` drives it: created unstarted, fed the request body (whole or in
/// parts), started, then read (head, body pieces, end or failure). Two implementations: `UpstreamTransfer` (libcurl
/// on its own thread: TLS, proxies) and `NIOUpstreamCall` (plain HTTP/1.1 on the client connection's own event loop).
public protocol UpstreamCall: AnyObject, Sendable {
    /// Sends the request (with what was queued of the body so far).
    func start()
    /// The complete request body, before `start()` (instead of `sendBody` + `finishBody`). Declared length only.
    func setWholeBody(_ bytes: ByteBuffer)
    /// Waits for the final response head (1xx responses skipped).
    func head() async -> Result<UpstreamHead, UpstreamFailure>
    /// Monotonic time the response head completed (0 before).
    var headAtNanos: UInt64 { get }
    /// Next piece of the response body (everything buffered so far), then `.end` or `.failed`.
    func nextBody() async -> UpstreamBodyEvent
    /// Right after `nextBody()` returned bytes: whether the body already ended normally behind them (the next
    /// `nextBody()` is `.end`), so they are the last. False when not known without waiting.
    var bodyEndsHere: Bool { get }
    /// Queues request body bytes; waits while more than `UpstreamTransfer.highWater` bytes are unsent.
    func sendBody(_ bytes: ByteBuffer) async
    /// The request body is complete.
    func finishBody()
    /// The client's request body failed: the call ends with `failure`.
    func abortBody(_ failure: UpstreamFailure)
    /// Stops the call (client gone); waiters resume with `failure`.
    func cancel(_ failure: UpstreamFailure)
}

extension UpstreamTransfer: UpstreamCall {
    public var bodyEndsHere: Bool { false }
}

/// Chooses, once per proxy, which client carries the exchanges' upstream calls (`MOONPALACE_UPSTREAM_CLIENT`):
/// `auto` (default): SwiftNIO on the client connection's event loop for a plain `http://` endpoint that no proxy
/// environment variable applies to, libcurl otherwise (TLS, proxies); `nio`: SwiftNIO whenever the endpoint is plain
/// `http://` (proxy variables ignored); `curl`: libcurl always.
///
/// Why: with curl every exchange hops from the event loop to the curl thread and back; on the event loop a non-stream
/// exchange runs on one thread from the client's request to its response. Measured (release, this 2-core machine,
/// same binary, `/work/threadcpu.sh`, medians of 3 alternating runs, nio vs curl): one at a time added p50 +0.28 vs
/// +0.43 ms, proxy CPU 300 vs 383 µs/request (event loop 253 vs 221 + curl thread 121); at 16 connections CPU
/// 230.5 vs 230.4 µs/request (the curl thread batches well under load; the event loop does its work instead);
/// 50-chunk streams at 16 connections ~2025 vs ~1907 req/s. perf (one at a time): the event loop's time is mostly
/// the kernel's socket work (~40 %); Swift concurrency (continuations, task jobs) is under 2 %.
public final class UpstreamClient: Sendable {
    public enum Mode: String, Sendable { case auto, nio, curl }

    let curl: CurlLoop
    /// The endpoint's parts when the NIO client carries its calls (nil: curl for everything).
    let target: NIOUpstreamTarget?
    private let pools = Mutex<[ObjectIdentifier: NIOUpstreamLoopPool]>([:])

    /// Reads `MOONPALACE_UPSTREAM_CLIENT`; an unknown value is an error a person can act on.
    public static func mode(environment: [String: String]) throws -> Mode {
        let raw = (environment["MOONPALACE_UPSTREAM_CLIENT"] ?? "").trimmingCharacters(in: " \t").lowercased()
        if raw.isEmpty { return .auto }
        guard let mode = Mode(rawValue: raw) else {
            throw UpstreamClientSettingError(value: raw)
        }
        return mode
    }

    init(endpoint: String, mode: Mode, environment: [String: String], curl: CurlLoop) {
        self.curl = curl
        guard mode != .curl, let target = NIOUpstreamTarget(endpoint: endpoint) else { target = nil; return }
        if mode == .auto && Self.proxyApplies(host: target.host, environment: environment) { self.target = nil; return }
        self.target = target
    }

    /// A call for `request`: on `eventLoop` with SwiftNIO when this proxy uses it (and the URL is the endpoint's),
    /// else a curl transfer.
    func call(_ request: UpstreamRequest, on eventLoop: (any EventLoop)?) throws(UpstreamFailure) -> any UpstreamCall {
        if let target, let eventLoop, request.url.hasPrefix(target.prefix) {
            var path = String(request.url.dropFirst(target.prefix.count))
            if path.isEmpty { path = "/" }
            return NIOUpstreamCall(request: request, path: path, target: target, pool: pool(for: eventLoop))
        }
        return try curl.transfer(request)
    }

    private func pool(for loop: any EventLoop) -> NIOUpstreamLoopPool {
        let key = ObjectIdentifier(loop)
        return pools.withLock { all in
            if let known = all[key] { return known }
            let made = NIOUpstreamLoopPool(eventLoop: loop)
            all[key] = made
            return made
        }
    }

    /// Fails the NIO calls still running and closes the pooled connections (shutdown; curl's loop stops apart).
    func stop() async {
        let all = pools.withLock { Array($0.values) }
        for pool in all {
            try? await pool.eventLoop.submit { pool.shutdown() }.get()
        }
    }

    /// Whether curl would send a request for `host` through a proxy: `http_proxy`, `HTTP_PROXY`, `all_proxy` or
    /// `ALL_PROXY` set and `no_proxy`/`NO_PROXY` not exempting the host (curl's rules: `*` exempts all; a name matches
    /// itself and its subdomains, a leading dot optional; entries separated by commas or spaces).
    static func proxyApplies(host: String, environment: [String: String]) -> Bool {
        let proxy = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"].contains { !(environment[$0] ?? "").isEmpty }
        guard proxy else { return false }
        let noProxy = environment["no_proxy"] ?? environment["NO_PROXY"] ?? ""
        let name = host.lowercased().trimmingCharacters(in: "[]")
        for raw in noProxy.split(whereSeparator: { $0 == "," || $0 == " " }) {
            var entry = raw.lowercased()
            if entry == "*" { return false }
            while entry.hasPrefix(".") { entry.removeFirst() }
            if entry.isEmpty { continue }
            if name == entry || name.hasSuffix("." + entry) { return false }
        }
        return true
    }
}

/// `MOONPALACE_UPSTREAM_CLIENT` has a value other than auto, nio, curl.
public struct UpstreamClientSettingError: Error, CustomStringConvertible {
    public var value: String
    public var description: String {
        "MOONPALACE_UPSTREAM_CLIENT=\(value) is not known: use auto (the default), nio or curl"
    }
}

/// A plain-HTTP endpoint's address, parsed once: `http://host[:port][/base]`.
struct NIOUpstreamTarget: Sendable {
    /// `http://authority`: every URL of the endpoint starts with it; the rest is the request target, sent as-is.
    let prefix: String
    let host: String
    let port: Int
    /// The Host header curl sends: the host, with the port unless it is 80.
    let hostHeader: String
    /// The pool key.
    let key: String

    init?(endpoint: String) {
        guard endpoint.lowercased().hasPrefix("http://") else { return nil }
        let rest = endpoint.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        // User info (curl would send Basic auth) and empty hosts stay with curl.
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { return nil }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        var port = 80
        if let portText, !portText.isEmpty {
            guard let p = Int(portText), (1...65535).contains(p) else { return nil }
            port = p
        }
        guard !host.isEmpty else { return nil }
        self.prefix = String(endpoint.prefix("http://".count)) + String(authority)
        self.host = String(host)
        self.port = port
        let bracketed = host.contains(":") ? "[\(host)]" : String(host)
        self.hostHeader = port == 80 ? bracketed : "\(bracketed):\(port)"
        self.key = "\(host):\(port)"
    }
}
