import Hummingbird
import Logging
import NIOCore
import NIOPosix

/// A Moonshot-compatible API server for tests, benchmarks and offline use.
///
/// State (context caches, files) lives in memory for the life of the value's `run()`; two servers never share it.
/// Thread-safety: the stores are `Mutex`-protected; the server is safe to start from any task.
public struct MockServer: Sendable {
    public let options: MockOptions
    let state: MockState

    public init(options: MockOptions) {
        self.options = options
        state = MockState(options: options)
    }

    /// Serves until the task is cancelled or (with `handleSignals`) SIGINT/SIGTERM arrives.
    /// `onStarted` receives the actual port once the socket listens (useful with port 0).
    public func run(handleSignals: Bool = true, onStarted: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try options.validate()
        let app = makeApplication(onStarted: onStarted)
        if handleSignals {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } else {
            try await app.runService(gracefulShutdownSignals: [])
        }
    }

    /// Makes Hummingbird's event loops run every Swift task of this process (NIO's global-executor take-over), so a
    /// request is read, handled and answered on one thread instead of hopping between the event loop and Swift's
    /// cooperative pool — the hops cost more than the mock's work. For a process that serves only the mock
    /// (`moonpalace mock`); call once, before serving. Returns false when it could not be installed.
    @discardableResult
    public static func adoptEventLoopsAsGlobalExecutor() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// The Hummingbird application, for embedding in another service group or for `HummingbirdTesting`.
    public func makeApplication(
        onStarted: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        var logger = Logger(label: "moonpalace.mock")
        logger.logLevel = .warning
        return Application(
            router: makeRouter(),
            configuration: ApplicationConfiguration(
                address: .hostname(options.host, port: options.port), serverName: nil, backlog: 1024),
            onServerRunning: { channel in await onStarted(channel.localAddress?.port ?? options.port) },
            logger: logger)
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let gate = Gate(options: options)
        router.addMiddleware { NotFoundAsJSON(gate: gate) }
        ChatRoutes(gate: gate, state: state).register(on: router)
        AccountRoutes(gate: gate, state: state).register(on: router)
        FileRoutes(gate: gate, state: state).register(on: router)
        CachingRoutes(gate: gate, state: state).register(on: router)
        return router
    }
}

/// Unknown paths (and methods) answer in Moonshot's error shape, with the usual headers, instead of an empty 404.
struct NotFoundAsJSON: RouterMiddleware {
    typealias Context = BasicRequestContext
    let gate: Gate

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            return await gate.serve(request) { _ in
                throw APIError.notFound("Not found: \(request.method.rawValue) \(request.uri.path)")
            }
        }
    }
}

/// The in-memory state of one mock server.
final class MockState: Sendable {
    let options: MockOptions
    let caches: CacheStore
    let files = FileStore()

    init(options: MockOptions) {
        self.options = options
        caches = CacheStore(readyDelayMs: options.cacheReadyDelayMs)
    }
}
