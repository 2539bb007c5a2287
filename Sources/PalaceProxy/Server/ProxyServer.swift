#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import PalaceLog
import ServiceLifecycle

/// The capture proxy: an HTTP server in front (`ProxyChildChannel`), curl loop behind, log writer beside.
///
/// Lifecycle: `run()` serves until SIGINT/SIGTERM, then stops accepting, lets in-flight exchanges finish (bounded
/// by `shutdownGraceSeconds`), stops the curl loop, and syncs and closes the log — nothing acknowledged is lost.
public final class ProxyServer: Sendable {
    public let context: ProxyContext

    /// Opens the log and the curl loop. A log that cannot be opened (locked by another moonpalace, unwritable
    /// directory) stops the start with that message: running without capture would silently lose exchanges.
    public init(config: ProxyConfiguration, environment: [String: String]) throws {
        let upstreamMode = try UpstreamClient.mode(environment: environment)
        let log = StderrLog(environment: environment)
        let health = CaptureHealth(announce: { message in log.log(log.style.boldRed(message)) })
        let writer = try LogWriter.open(directory: config.logDirectory, options: LogWriterOptions(syncPolicy: config.syncPolicy))
        Self.raiseFileLimit()
        // Blocking work beside the proxy (the index tailer's SQLite, retention) must run on a `BlockingWorkExecutor`.
        // MOONPALACE_EVENT_LOOP_TASKS=0 keeps Swift's own pool (for comparison).
        if environment["MOONPALACE_EVENT_LOOP_TASKS"] != "0" { _ = Self.eventLoopsRunTasks }
        let loop = try CurlLoop()
        let upstream = UpstreamClient(endpoint: config.endpoint, mode: upstreamMode, environment: environment, curl: loop)
        context = ProxyContext(config: config, loop: loop, upstream: upstream, writer: writer, health: health, log: log)
    }

    /// Serves until a shutdown signal. `onRunning` gets the bound port once listening (the banner goes there).
    public func run(mount: ProxyMount? = nil, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let config = context.config
        let errorLog = config.serverErrorLogPath.map { path in
            ServerErrorLog(path: path, notice: { [log = context.log] message in log.log(message) })
        }
        var logger = errorLog.map { file in Logger(label: "moonpalace", factory: file.logHandler) }
            ?? Logger(label: "moonpalace")
        logger.logLevel = errorLog == nil ? .error : .warning
        let responder = ProxyRequestResponder(mount: mount, handler: ExchangeHandler(context: context), logger: logger)
        let server = Server(
            childChannelSetup: ProxyChildChannel(responder: responder, errorLog: errorLog),
            configuration: ServerConfiguration(address: .hostname(config.host, port: config.port), serverName: nil, backlog: 1024),
            onServerRunning: { channel in
                await onRunning(channel.localAddress?.port ?? config.port)
                await mount?.onRunning(channel.localAddress?.port ?? config.port)
            },
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger)
        var groupConfig = ServiceGroupConfiguration(
            services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfig.maximumGracefulShutdownDuration = .seconds(config.shutdownGraceSeconds)
        let group = ServiceGroup(configuration: groupConfig)
        var runError: (any Error)?
        do { try await group.run() } catch { runError = error }
        await drain()
        if let runError { throw runError }
    }

    /// The event loops run every Swift task of the process (NIO's global-executor take-over): an exchange's task then
    /// runs on a client connection's event loop instead of Swift's cooperative pool, so reading the request,
    /// handling it and writing the response need no thread hop between them — on a busy machine every hop is a wait
    /// for a CPU. Installed once per process. Code on these tasks must not block for long (an event loop waits):
    /// blocking work goes to a `BlockingWorkExecutor` (task executor preference) or NIO's thread pool.
    static let eventLoopsRunTasks: Bool = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

    /// How many event loops serve clients: half the cores (at least one), unless NIO_SINGLETON_GROUP_LOOP_COUNT says.
    /// Why: an exchange also keeps the curl loop thread, the log writer and the index tailer busy, so loops on every
    /// core only compete with them; and with one loop on 2 cores, the connections' tasks never hop between loops
    /// (measured: 450-513 -> 343-386 us proxy CPU per non-stream request, same run). Call first thing in `start`,
    /// before anything uses NIO (the setting is taken once, before the first event loop exists).
    public static func configureEventLoops(environment: [String: String]) {
        guard environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil else { return }
        NIOSingletons.groupLoopCountSuggestion = max(1, System.coreCount / 2)
    }

    /// Each exchange holds two sockets (client and upstream): raise the soft descriptor limit to the hard one.
    static func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// Waits (bounded) for in-flight exchanges to write their end records, then stops curl and closes the log.
    func drain() async {
        let deadline = Clock.nanos() + UInt64(context.config.shutdownGraceSeconds) * 1_000_000_000
        while context.inFlight.load(ordering: .relaxed) > 0 && Clock.nanos() < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        await context.upstream.stop()
        context.loop.stop()
        context.log.flush()
        do { try await context.writer.sync(); try await context.writer.close() } catch {
            context.log.log(context.log.style.boldRed("could not sync the log at shutdown: \(error)"))
        }
    }
}

extension ProxyServer {
    /// Prints the start banner (bold white on a terminal), MoonPalace's exact wording.
    public func banner(_ text: String) {
        context.log.log(context.log.style.boldWhite(text))
    }
}
