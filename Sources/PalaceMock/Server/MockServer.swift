import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        let service = makeService(onStarted: onStarted)
        let group = ServiceGroup(configuration: .init(
            services: [service], gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
            logger: service.logger))
        try await group.run()
    }

    /// Makes Hummingbird's event loops run every Swift task of this process (NIO's global-executor take-over), so a
    /// request is read, handled and answered on one thread instead of hopping between the event loop and Swift's
    /// cooperative pool — the hops cost more than the mock's work. For a process that serves only the mock
    /// (`moonpalace mock`); call once, before serving. Returns false when it could not be installed.
    @discardableResult
    public static func adoptEventLoopsAsGlobalExecutor() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// The HTTP service (a ServiceLifecycle `Service`), for embedding in another service group.
    func makeService(onStarted: @escaping @Sendable (Int) async -> Void = { _ in }) -> MockHTTPService {
        var logger = Logger(label: "moonpalace.mock")
        logger.logLevel = .warning
        return MockHTTPService(
            responder: makeRouter().buildResponder(),
            configuration: ServerConfiguration(address: .hostname(options.host, port: options.port), backlog: 1024),
            logger: logger,
            onStarted: { channel in await onStarted(channel.localAddress?.port ?? options.port) })
    }

    func makeRouter() -> Router<MockRequestContext> {
        let router = Router(context: MockRequestContext.self)
        let gate = Gate(options: options)
        router.addMiddleware { NotFoundAsJSON(gate: gate) }
        ChatRoutes(gate: gate, state: state).register(on: router)
        AccountRoutes(gate: gate, state: state).register(on: router)
        FileRoutes(gate: gate, state: state).register(on: router)
        CachingRoutes(gate: gate, state: state).register(on: router)
        DebugRoutes(state: state).register(on: router)
        return router
    }
}

/// Unknown paths (and methods) answer in Moonshot's error shape, with the usual headers, instead of an empty 404.
struct NotFoundAsJSON: RouterMiddleware {
    typealias Context = MockRequestContext
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
    /// What `/_mock/hold` saw, for `GET /_mock/events`.
    let events = DebugEvents()

    init(options: MockOptions) {
        self.options = options
        caches = CacheStore(readyDelayMs: options.cacheReadyDelayMs)
    }
}

/// Serves the router over HTTP/1.1 the way Hummingbird's `Application.run()` does, without its `Date`-header cache:
/// that cache formats with Foundation's `Calendar`, whose creation resolves the current time zone through ICU and
/// maps ~2.7 MiB of ICU code and data into a process whose RSS budget is 30 MiB (issue 3). `HTTPDate` writes the
/// same header (RFC 9110 IMF-fixdate) from `clock_gettime`, reformatted at most once a second.
struct MockHTTPService: Service {
    let responder: RouterResponder<MockRequestContext>
    let configuration: ServerConfiguration
    let logger: Logger
    let onStarted: @Sendable (any Channel) async -> Void

    func run() async throws {
        let responder = responder, logger = logger
        let server = try HTTPServerBuilder.http1().buildServer(
            configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger
        ) { (request, responseWriter: consuming ResponseWriter, channel) in
            let context = MockRequestContext(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch let error as HTTPParserError {
                throw error   // the channel handler answers 400 and closes the connection
            } catch {
                logger.debug("unhandled error", metadata: ["error": "\(error)"])
                response = Response(status: .internalServerError, body: .init())
            }
            response.headers[.date] = HTTPDate.now
            do {
                try await responseWriter.write(response: response.head, body: response.body)
            } catch is HTTPParserError {
                // Not rethrown as such: the channel handler would then write a second response.
                throw ParseErrorWhileWritingResponse()
            }
        } onServerRunning: { channel in
            await onStarted(channel)
        }
        try await server.run()
    }
}

struct ParseErrorWhileWritingResponse: Error {}

/// The `Date` response header: RFC 9110 §5.6.7 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), always GMT, English
/// names, from the Unix time through libc's `gmtime_r` (no Foundation, no ICU). One formatted value is
/// shared by every connection and replaced when the second changes.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))

    static var now: String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let second = Int(ts.tv_sec)
        if let text = cache.withLock({ $0.second == second ? $0.text : nil }) { return text }
        let text = format(unixTime: second)
        cache.withLock { if second > $0.second { $0 = (second, text) } }
        return text
    }

    static func format(unixTime t: Int) -> String {
        var time = time_t(t)
        var p = tm()
        gmtime_r(&time, &p)   // libc's UTC breakdown: no time zone lookup, no Foundation
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func pad(_ n: Int32, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.utf8.count)) + s
        }
        return "\(weekdays[Int(p.tm_wday)]), \(pad(p.tm_mday, 2)) \(months[Int(p.tm_mon)]) \(pad(p.tm_year + 1900, 4)) "
            + "\(pad(p.tm_hour, 2)):\(pad(p.tm_min, 2)):\(pad(p.tm_sec, 2)) GMT"
    }
}
