import HTTPTypes
import Hummingbird
import Logging
import PalaceIndex
import PalaceLog
import ServiceLifecycle

/// The web admin of one data directory: every page under `options.prefix`.
///
/// Serve it on its own (`run`, for `moonpalace web`) or inside another Hummingbird server (`respond`, which
/// `moonpalace start` mounts into the proxy for paths under the prefix). Call `start()` before serving (the live
/// feed and index catch-up) and `stop()` after.
public final class PalaceWebApp: Sendable {
    public let options: WebOptions
    let actions: WebActions
    let pool: IndexPool
    let feed: LiveFeed
    let access: Access
    let statsCache = StatsCache()
    let notice: @Sendable (String) -> Void

    /// Opens the index (creating or repairing it as PalaceIndex does). Throws when the options cannot be served
    /// safely (a non-loopback host without a token) or the index cannot be opened.
    public init(dataDirectory: DataDirectory, options: WebOptions, actions: WebActions,
                notice: @escaping @Sendable (String) -> Void = { _ in }) throws {
        if let problem = options.problem { throw WebError.unsafe(problem) }
        self.options = options
        self.actions = actions
        self.notice = notice
        pool = IndexPool(dataDirectory: dataDirectory, notice: notice)
        try pool.prepare()
        feed = LiveFeed(pool: pool, interval: options.pollInterval, idleWithoutSubscribers: options.indexKeptCurrent,
                        notice: notice)
        access = Access(options: options)
    }

    public func start() { feed.start() }
    public func stop() { feed.stop() }

    /// Whether `path` belongs to the web admin.
    public func handles(path: String) -> Bool {
        path == options.prefix || path.hasPrefix(options.prefix + "/") || path.hasPrefix(options.prefix + "?")
    }

    var layout: Layout { Layout(prefix: options.prefix, csrf: access.csrf) }

    /// Answers one request under the prefix. Never throws: failures become error pages.
    public func respond(to request: Request, context: some RequestContext) async -> Response {
        let started = ContinuousClock.now
        var response: Response
        switch access.check(request) {
        case .allow:
            do { response = try await route(request) } catch {
                response = page(.internalServerError, layout.errorPage(title: "Something went wrong", message: "\(error)"))
            }
        case .acceptToken(let location):
            response = Self.redirect(location)
            response.headers[values: .setCookie].append(access.cookie())
        case .deny(let status, let message):
            response = page(status, layout.errorPage(title: status == .unauthorized ? "Token required" : "Refused", message: message))
        }
        let ms = Double((ContinuousClock.now - started).components.attoseconds) / 1e15
            + Double((ContinuousClock.now - started).components.seconds) * 1000
        response.headers[HTTPField.Name("Server-Timing")!] = "app;dur=" + Format.fixed(ms, 2)
        return response
    }

    /// Serves the admin alone on `host:port` until SIGINT/SIGTERM (`moonpalace web`).
    public func run(port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var logger = Logger(label: "moonpalace-web")
        logger.logLevel = .error
        let app = Application(
            responder: WebResponder(app: self),
            configuration: ApplicationConfiguration(address: .hostname(options.host, port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
        var config = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        config.maximumGracefulShutdownDuration = .seconds(5)
        start()
        defer { stop() }
        try await ServiceGroup(configuration: config).run()
    }

    // MARK: responses

    func page(_ status: HTTPResponse.Status, _ html: String) -> Response {
        var h = HTTPFields()
        h[.contentType] = "text/html; charset=utf-8"
        Self.secure(&h)
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    static func secure(_ h: inout HTTPFields) {
        h[.contentSecurityPolicy] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        h[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        h[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        h[.cacheControl] = "no-store"
    }

    static func redirect(_ location: String) -> Response {
        var h = HTTPFields()
        h[.location] = location
        return Response(status: .seeOther, headers: h)
    }

    static func bytes(_ status: HTTPResponse.Status = .ok, _ bytes: some Sequence<UInt8>, contentType: String,
                      download: String? = nil) -> Response {
        var h = HTTPFields()
        h[.contentType] = contentType
        if let download { h[.contentDisposition] = "attachment; filename=\"\(download)\"" }
        secure(&h)
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// Errors of the web module, each a message a person can act on.
public enum WebError: Error, CustomStringConvertible {
    case unsafe(String)

    public var description: String {
        switch self {
        case .unsafe(let m): return m
        }
    }
}

/// The responder of the standalone server: the admin under its prefix, a redirect from `/`, 404 elsewhere.
struct WebResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let app: PalaceWebApp

    func respond(to request: Request, context: Context) async throws -> Response {
        if app.handles(path: request.uri.path) { return await app.respond(to: request, context: context) }
        if request.uri.path == "/" { return PalaceWebApp.redirect(app.options.prefix + "/") }
        return app.page(.notFound, app.layout.errorPage(title: "Not found", message: "Nothing at \(request.uri.path); the admin is at \(app.options.prefix)/"))
    }
}
