import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc

/// glibc's mallopt(3) (malloc.h is not part of the Glibc module); M_ARENA_MAX is -8.
@_silgen_name("mallopt") private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
import PalaceIndex
import PalaceLog
import PalaceMock
import PalaceProxy

/// `moonpalace start` — the capture proxy. Flags beat config.yaml (`start:` keys) beat built-in defaults.
struct StartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start the MoonPalace proxy server",
        discussion: """
            Forwards every request (any method, path and query) to the endpoint, streams answers back event by \
            event, and records each exchange in the data directory's log. Point an OpenAI-compatible SDK's \
            base_url at the printed URL. A browser's GET / shows a short page; every API path is forwarded.
            Stops gracefully on SIGINT/SIGTERM: in-flight exchanges finish, the log is synced.
            Every flag can also be set in <data-dir>/config.yaml (see README "config.yaml"); a flag given here \
            beats the config value, which beats the built-in default.
            Upstream calls to a plain http:// endpoint run on the client connection's event loop (SwiftNIO); \
            https:// endpoints and proxied ones (http_proxy, ALL_PROXY, NO_PROXY) go through libcurl. \
            MOONPALACE_UPSTREAM_CLIENT=auto|nio|curl overrides the choice (README "moonpalace start").
            """
    )

    @Option(name: [.short, .long], help: ArgumentHelp("Port to listen on, 0-65535; 0 = any free port (default: 9988).", valueName: "PORT"))
    var port: UInt16?

    // No default is ever shown for the key (MoonPalace printed config keys in --help).
    @Option(name: [.short, .long], help: ArgumentHelp("API key sent upstream as 'Authorization: Bearer KEY' on every request.", valueName: "KEY"))
    var key: String?

    @Option(help: ArgumentHelp("Interface to listen on (default: 127.0.0.1).", valueName: "HOST"))
    var host: String?

    @Option(help: ArgumentHelp("Upstream: cn (https://api.moonshot.cn, default), global (https://api.moonshot.ai), mock (the built-in mock server), or a URL.", valueName: "ENDPOINT"))
    var endpoint: String?

    @OptionGroup var data: DataDirOptions

    @OptionGroup var web: WebMountOptions

    @Option(help: ArgumentHelp("When the log is fsynced: always, batch (group commit ≤ 100 ms, default) or none.", valueName: "POLICY"))
    var sync: String?

    @Option(help: ArgumentHelp("Abort an upstream call after this many seconds without a byte (default: 300; no cap on total duration).", valueName: "SECONDS"))
    var upstreamIdleTimeout: Int?

    @Flag(inversion: .prefixedNo, help: "Send non-stream /chat/completions requests upstream as streams; the client still gets one chat.completion JSON (default: off).")
    var forceStream: Bool?

    @Flag(inversion: .prefixedNo, help: "Cut streams that keep repeating themselves with finish_reason \"repeat\" (default: off).")
    var detectRepeat: Bool?

    @Option(help: ArgumentHelp("Repetition threshold 0-1: cut when the distinct share of the recent text falls below it; higher = less tolerant (default: 0.5).", valueName: "RATIO"))
    var repeatThreshold: Double?

    @Option(help: ArgumentHelp("Check for repetition only after more than this many characters (default: 100).", valueName: "CHARS"))
    var repeatMinLength: Int?

    @Flag(inversion: .prefixedNo, help: "Create and reuse Moonshot context caches for long chat prompts (default: off).")
    var autoCache: Bool?

    @Option(help: ArgumentHelp("Cache only prompts of more than this many bytes (default: 4096).", valueName: "BYTES"))
    var cacheMinBytes: Int?

    @Option(help: ArgumentHelp("TTL of created caches and the TTL reset sent on each use (default: 60).", valueName: "SECONDS"))
    var cacheTtl: Int?

    @Option(help: ArgumentHelp("Delete caches (upstream too) unused for this long (default: 86400).", valueName: "SECONDS"))
    var cacheCleanup: Int?

    @Option(help: ArgumentHelp("Retention: delete whole log segments older than this, e.g. 30d, 12h (default: keep).", valueName: "DURATION"))
    var retentionMaxAge: String?

    @Option(help: ArgumentHelp("Retention: delete the oldest log segments while the log is larger than this, e.g. 10GiB (default: no limit).", valueName: "SIZE"))
    var retentionMaxSize: String?

    @Option(name: .customLong("retain-days"), help: ArgumentHelp("Retention in days (the same as --retention-max-age Nd).", valueName: "N"))
    var retainDays: Double?

    @Option(name: .customLong("retain-bytes"), help: ArgumentHelp("The same as --retention-max-size.", valueName: "SIZE"))
    var retainBytes: String?

    func run() async throws {
        #if canImport(Glibc)
        // glibc gives every thread that meets contention in malloc an arena of its own (up to 8 per core), each
        // keeping its freed memory: the proxy's busy threads (event loops, curl, log writer, index tailer) share two.
        _ = glibcMallopt(-8, 2)   // M_ARENA_MAX
        #endif
        ProxyServer.configureEventLoops(environment: ProcessInfo.processInfo.environment)
        let (dir, config) = try data.openWithConfig()
        if let hint = MoonPalaceImport.hint(dataDirectory: dir.path) { FileHandle.standardError.write(Data("moonpalace: \(hint)\n".utf8)) }
        let env = ProcessInfo.processInfo.environment

        let policyName = sync ?? config.start.sync ?? "batch"
        guard let policy = SyncPolicy(rawValue: policyName) else {
            throw failure("--sync must be always, batch or none (got '\(policyName)')")
        }
        let idle = upstreamIdleTimeout ?? config.start.upstreamIdleTimeout ?? 300
        guard idle > 0 else { throw failure("--upstream-idle-timeout must be at least 1 second (got \(idle))") }
        let portValue = port.map(Int.init) ?? config.start.port ?? 9988
        guard (0...65535).contains(portValue) else { throw failure("the port must be 0-65535 (got \(portValue))") }
        let endpointName = endpoint ?? config.endpoint ?? "cn"
        let features = try resolveFeatures(config.start, dir: dir)
        let retention = try resolveRetention(config.start)
        do { _ = try UpstreamClient.mode(environment: env) } catch { throw failure("\(error)") }

        var mockTask: Task<Void, Never>?
        var upstream = endpointName
        if endpointName.lowercased() == "mock" {
            let (task, port) = try await startMock()
            mockTask = task
            upstream = "http://127.0.0.1:\(port)"
        }
        defer { mockTask?.cancel() }

        var configured = ProxyConfiguration(
            host: host ?? config.start.host ?? "127.0.0.1", port: portValue, endpoint: upstream,
            key: key ?? config.start.key, idleTimeoutSeconds: idle, logDirectory: dir.logDirectory,
            syncPolicy: policy, controlToken: RunningProxy.newToken())
        configured.forceStream = features.forceStream
        configured.repeatDetection = features.repeatDetection
        configured.autoCache = features.autoCache
        configured.serverErrorLogPath = dir.serverErrorLogPath
        let proxyConfig = configured
        let server: ProxyServer
        do { server = try ProxyServer(config: proxyConfig, environment: env) } catch {
            throw failure("cannot start the proxy: \(error)")
        }
        let bannerHost = proxyConfig.host == "0.0.0.0" || proxyConfig.host == "::" ? "127.0.0.1" : proxyConfig.host
        // The event loops run the proxy's tasks: the index tailer's SQLite work and retention passes block, so they
        // run on a thread of their own (see BlockingWorkExecutor), at nice 10: on a busy machine (two cores shared
        // by the event loop, curl's thread, the upstream and the clients) the request path goes first and the
        // index catches up in the gaps (~45 µs of CPU an exchange, in one burst every 250 ms).
        let blocking = BlockingWorkExecutor(name: "moonpalace-index", niceness: 10)
        let retentionTask = retention.map { policy in
            Task(executorPreference: blocking) { await LogRetentionTask.run(server: server, policy: policy) }
        }
        defer { retentionTask?.cancel() }
        let indexTask = Task(executorPreference: blocking) { await Self.keepIndexCurrent(dir) }
        defer { indexTask.cancel() }
        do {
            defer { RunningProxy.remove(dataDirectory: dir.path) }
            try await server.run(mount: WebMount.make(web, dataDirectory: dir, config: config, host: proxyConfig.host, server: server)) { port in
                try? RunningProxy(pid: getpid(), host: proxyConfig.host, port: port, endpoint: proxyConfig.endpoint,
                                  token: proxyConfig.controlToken ?? "").write(dataDirectory: dir.path)
                server.banner("MoonPalace Starts => change base_url to \"http://\(bannerHost):\(port)/v1\"")
                server.logo()
            }
        } catch {
            throw failure("the proxy stopped: \(error)")
        }
    }

    /// The index tailer beside the proxy: read commands and the web admin find the index at most 250 ms behind the
    /// log. Opened after the proxy starts (a rebuild of a big index never delays the banner); rows an earlier run
    /// left in flight are marked incomplete before the first catch-up. Failures are reported and never stop the proxy.
    private static func keepIndexCurrent(_ dir: DataDirectory) async {
        let notice: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("moonpalace: \($0)\n".utf8)) }
        do {
            let tailer = try IndexTailer(dataDirectory: dir, pageCacheKiB: 4096, notice: notice)
            try tailer.start()
            await tailer.run()
        } catch {
            notice("the index is not kept current while the proxy runs (\(error)); read commands catch it up themselves")
        }
    }

    /// force-stream, detect-repeat and auto-cache from flags, then config, then defaults.
    private func resolveFeatures(_ c: ConfigFile.Start, dir: DataDirectory) throws -> (forceStream: Bool, repeatDetection: RepeatSettings?, autoCache: AutoCacheSettings?) {
        let threshold = repeatThreshold ?? c.repeatThreshold ?? 0.5
        guard threshold.isFinite, (0...1).contains(threshold) else {
            throw failure("--repeat-threshold must be between 0 and 1 (got \(threshold))")
        }
        let minLength = repeatMinLength ?? c.repeatMinLength ?? 100
        guard minLength >= 0 else { throw failure("--repeat-min-length must not be negative (got \(minLength))") }
        let minBytes = cacheMinBytes ?? c.cacheMinBytes ?? 4096
        guard minBytes >= 0 else { throw failure("--cache-min-bytes must not be negative (got \(minBytes))") }
        let ttl = cacheTtl ?? c.cacheTTL ?? 60
        guard ttl >= 1 else { throw failure("--cache-ttl must be at least 1 second (got \(ttl))") }
        let cleanup = cacheCleanup ?? c.cacheCleanup ?? 86_400
        guard cleanup >= 1 else { throw failure("--cache-cleanup must be at least 1 second (got \(cleanup))") }
        let repeatOn = detectRepeat ?? c.detectRepeat ?? false
        let cacheOn = autoCache ?? c.autoCache ?? false
        return (
            forceStream ?? c.forceStream ?? false,
            repeatOn ? RepeatSettings(threshold: threshold, minLength: minLength) : nil,
            cacheOn ? AutoCacheSettings(minBytes: minBytes, ttlSeconds: ttl, cleanupSeconds: cleanup,
                                        statePath: dir.path + "/context-caches.json") : nil)
    }

    /// The log retention policy from flags, then config; nil when neither limit is set (keep everything).
    private func resolveRetention(_ c: ConfigFile.Start) throws -> LogRetention.Policy? {
        var age = c.retentionMaxAge
        var size = c.retentionMaxSize
        if retainDays != nil && retentionMaxAge != nil { throw failure("give --retain-days or --retention-max-age, not both") }
        if retainBytes != nil && retentionMaxSize != nil { throw failure("give --retain-bytes or --retention-max-size, not both") }
        if let days = retainDays {
            guard days > 0, days.isFinite else { throw failure("--retain-days must be a positive number of days (got \(days))") }
            age = days * 86400
        }
        let retentionMaxSize = retentionMaxSize ?? retainBytes
        if let text = retentionMaxAge {
            guard let v = Quantity.seconds(text) else {
                throw failure("--retention-max-age must be a duration such as 30d, 12h or 90m (got '\(text)')")
            }
            age = v
        }
        if let text = retentionMaxSize {
            guard let v = Quantity.bytes(text) else {
                throw failure("\(retainBytes != nil ? "--retain-bytes" : "--retention-max-size") must be a size such as 10GiB or 500MB (got '\(text)')")
            }
            size = v
        }
        guard age != nil || size != nil else { return nil }
        return LogRetention.Policy(maxAge: age, maxTotalBytes: size)
    }

    /// Runs PalaceMock in-process on an ephemeral port; returns its task and port.
    private func startMock() async throws -> (Task<Void, Never>, Int) {
        var options = MockOptions()
        options.port = 0
        let server = MockServer(options: options)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let task = Task {
            do { try await server.run(handleSignals: false) { port in continuation.yield(port) } } catch {
                FileHandle.standardError.write(Data("error: the built-in mock server stopped: \(error)\n".utf8))
            }
            continuation.finish()
        }
        for await port in ports { return (task, port) }
        throw failure("the built-in mock server did not start")
    }

    private func failure(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode(2)
    }
}
