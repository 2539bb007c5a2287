import HTTPTypes
import Hummingbird
import TestHTTPClient
import Logging
@testable import PalaceWeb

/// Serves `web` on a free port of 127.0.0.1 (real sockets; the approach of PalaceMockTests — no HummingbirdTesting,
/// whose client would pull TLS into the test build) for the duration of `body`.
/// Cancelling the server at the end of a test makes Hummingbird log errors about it: not worth showing.
private let quiet: Logger = {
    var logger = Logger(label: "palaceweb-tests")
    logger.logLevel = .critical
    return logger
}()

func withServer<T: Sendable>(_ web: PalaceWebApp, _ body: @Sendable (WebClient) async throws -> T) async throws -> T {
    let (ports, sink) = AsyncStream<Int>.makeStream()
    let app = Application(
        responder: WebResponder(app: web),
        configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0), serverName: nil),
        onServerRunning: { channel in sink.yield(channel.localAddress?.port ?? 0) },
        logger: quiet)
    let serving = Task { try await app.runService(gracefulShutdownSignals: []) }
    var it = ports.makeAsyncIterator()
    guard let port = await it.next(), port > 0 else {
        serving.cancel()
        throw WebClientError("the web server did not start")
    }
    defer { serving.cancel() }
    do {
        let result = try await body(WebClient(port: port))
        serving.cancel()
        _ = await serving.result
        return result
    } catch {
        serving.cancel()
        _ = await serving.result
        throw error
    }
}

typealias WebClient = TestHTTPClient
typealias WebResponse = TestHTTPResponse
typealias WebClientError = TestHTTPClientError
