import Hummingbird
import PalaceLog
import PalaceWire
import Synchronization

/// What every exchange shares: configuration, the curl loop, the log writer, capture health and stderr.
public final class ProxyContext: Sendable {
    public let config: ProxyConfiguration
    let loop: CurlLoop
    /// Which client carries the exchanges' upstream calls (curl's loop, or SwiftNIO on the connections' loops).
    let upstream: UpstreamClient
    let writer: LogWriter
    let health: CaptureHealth
    let log: StderrLog
    /// Exchanges between arrival and their end record; graceful shutdown waits for zero.
    let inFlight = Atomic<Int>(0)
    /// `--auto-cache` (nil when off).
    let autoCache: AutoCache?

    init(config: ProxyConfiguration, loop: CurlLoop, upstream: UpstreamClient, writer: LogWriter, health: CaptureHealth,
         log: StderrLog) {
        self.config = config
        self.loop = loop
        self.upstream = upstream
        self.writer = writer
        self.health = health
        self.log = log
        self.autoCache = config.autoCache.map { AutoCache(settings: $0, endpoint: config.endpoint, key: config.key, loop: loop, log: log) }
    }
}

/// The proxy-generated failure response, MoonPalace's shape:
/// `{"error":{"code":"proxy_server_error","type":STEP,"message":…}}` with 502 (504 for timeouts).
enum ProxyErrorResponse {
    static func json(_ failure: UpstreamFailure) -> String {
        let value: JSONValue = ["error": [
            "code": "proxy_server_error",
            "type": .string(failure.step.rawValue),
            "message": .string(failure.message),
        ]]
        return value.serialized()
    }

    static func status(_ failure: UpstreamFailure) -> HTTPResponse.Status {
        failure.step == .timeout ? .gatewayTimeout : .badGateway
    }

    static func response(_ failure: UpstreamFailure) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status(failure), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(string: json(failure) + "\n")))
    }

    /// The same error as one SSE event, for a stream that already started (the status cannot change any more).
    static func sseEvent(_ failure: UpstreamFailure) -> ByteBuffer {
        ByteBuffer(bytes: SSEEncoder.encode(data: json(failure)))
    }
}

/// The local page for a browser's `GET /` (MoonPalace issue #5); API paths are all forwarded.
enum WelcomePage {
    static func response(_ context: ProxyContext, head: Bool) -> Response {
        let c = context.config
        let text = """
            MoonPalace is running: a debugging proxy for the Moonshot AI (Kimi) API.

            Point your OpenAI-compatible SDK at base_url = "http://\(c.host):\(c.port)/v1".
            Requests are forwarded to \(c.endpoint) and recorded in \(c.logDirectory).
            Browse them with `moonpalace list` and `moonpalace inspect --id N`.

            """
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        let buffer = ByteBuffer(string: text)
        if head {
            headers[.contentLength] = String(buffer.readableBytes)
            return Response(status: .ok, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: buffer))
    }
}
