#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Synchronization

/// The proxy listener's connections: a plain SwiftNIO pipeline (NIOHTTP1's request decoder and response encoder,
/// then `ProxyHTTPHandler`, which also does pipelining and protocol errors) under Hummingbird's `Server` (bind, accept,
/// graceful shutdown by quiescing). The team's rule is "Hummingbird 2 for every HTTP server"; the proxy's hot path
/// goes below Hummingbird's `Application` + `NIOAsyncChannel` for measured reasons (release builds, this 2-core
/// machine at load ~11, same mock for both, builds alternating, medians of 3, proxy CPU user+sys per request at 16
/// connections): non-stream 264 -> 257 µs, 50-chunk stream 389 -> 369 µs (every event had been an awaited
/// async-channel write). `Benchmarks/proxy.sh` A/B (medians of 3): added p50 one at a time +0.465 -> +0.388 ms,
/// stream throughput 0.27x -> 0.49x of direct, paced first byte +0.52 -> +0.32 ms. perf, folded by subsystem (event
/// loop, non-stream): server I/O (NIO, HTTP codec, Hummingbird values, runtime) ~72 -> ~60 µs of the loop's
/// ~137 -> ~125 µs; what is left there is mostly the socket syscalls themselves — the other large costs are the
/// log writer (~24 µs, LZ4 HC), the stream tap (~12 µs), curl's thread (~43 µs) and the index tailer's.
/// Behaviour fixed on the way: HTTP/1.0 clients get HTTP/1.0 answers (were HTTP/1.1), `Expect: 100-continue` is
/// answered (clients waited out their timeout), `Connection: close` is echoed.
///
/// What stays Hummingbird: the request and response values (`Request`, `Response`, `ResponseBody`), so
/// `ExchangeHandler`, the control channel and a `ProxyMount` (the web admin) are unchanged; the mock and the web
/// admin's own server stay on `Application`.
struct ProxyChildChannel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let channel: any Channel
        /// Requests to run inside the server's task tree (see `handle(value:logger:)`).
        let structured: AsyncStream<@Sendable () async -> Void>
    }

    let responder: ProxyRequestResponder
    let errorLog: ServerErrorLog?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let connection = ClientConnection()
            let (structured, jobs) = AsyncStream.makeStream(of: (@Sendable () async -> Void).self)
            let sync = channel.pipeline.syncOperations
            // First in the pipeline: sees the client's end of input at once, before any HTTP decoding.
            try sync.addHandler(ClientConnectionWatcher(connection: connection), position: .first)
            // No pipelining assistance, no protocol-error handler: `ProxyHTTPHandler` does both (see there). No outbound
            // header validation: every response header went through `HTTPFields`, which already validates.
            try sync.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false,
                                                 withOutboundHeaderValidation: false)
            try sync.addHandler(ProxyHTTPHandler(responder: responder, connection: connection, jobs: jobs,
                                                errorLog: errorLog))
            return Value(channel: channel, structured: structured)
        }
    }

    /// The server's task for the connection: runs the requests that need the server's task context (mounted
    /// paths) as its child tasks, until the connection ends. Proxied requests are driven by the handler alone.
    func handle(value: Value, logger: Logger) async {
        let channel = value.channel
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                let executor = EventLoopTaskExecutor.of(channel.eventLoop)
                for await job in value.structured {
                    group.addTask(executorPreference: executor) { await job() }
                }
            }
        } onCancel: {
            channel.close(promise: nil)
        }
    }
}

/// Sends the mount's paths to the mount and everything else to the exchange handler.
struct ProxyRequestResponder: Sendable {
    let mount: ProxyMount?
    let handler: ExchangeHandler
    let logger: Logger

    /// Whether `request` is the mount's.
    func mounts(_ request: Request) -> Bool {
        guard let mount, let path = request.head.path, path.hasPrefix(mount.prefix) else { return false }
        return mount.matches(request.uri.path)
    }

    func respond(to request: Request, io: ConnectionIO) async -> Response {
        if let mount, mounts(request) {
            let context = BasicRequestContext(source: ApplicationRequestContextSource(channel: io.channel, logger: logger))
            return await mount.respond(request, context)
        }
        return await handler.handle(request, client: io.connection, executor: io.executor)
    }
}

/// One client connection's HTTP handling, on its event loop.
///
/// Per request: the head starts a task (on this connection's event loop, `EventLoopTaskExecutor`) that builds the
/// response and writes it (`ConnectionIO.send`); body parts go to the request's `RequestBodyStream`, which holds
/// further reads from the socket while more than `RequestBodyStream.highWater` bytes wait unread (backpressure on the
/// client's upload).
///
/// Pipelining (done here, not by NIOHTTP1's pipelining assistance, which stops reading the socket during every
/// response — two `epoll_ctl` calls per request for nothing): parts that arrive after the current request's end while
/// its response is being written wait in `queue` (and reads stop while anything waits there); they are handled once
/// the response's end was written, so responses keep the requests' order. A request body that is still coming when
/// its response ended is read and dropped (the connection stays usable). A broken request (parse error) is answered
/// `400` with `Connection: close` in its turn, after the responses before it.
///
/// Keep-alive: HTTP/1.1 unless `Connection: close`; HTTP/1.0 with `Connection: keep-alive` only when the response
/// has a length (else the close delimits it). `Expect: 100-continue` is answered with `100 Continue` at once (the
/// body is always read). Graceful shutdown (`ChannelShouldQuiesceEvent`): an idle connection closes at once, a busy
/// one after its current response (`Connection: close`).
final class ProxyHTTPHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Phase: Equatable {
        /// No request in progress.
        case idle
        /// A request's response is being made; `ended`: its request's end has arrived (what comes next is queued).
        case active(ended: Bool)
        /// The response ended before its request did: the rest of that request's body is dropped.
        case draining
    }
    private enum Queued {
        case part(HTTPServerRequestPart)
        case error(any Error)
    }

    let responder: ProxyRequestResponder
    let connection: ClientConnection
    let jobs: AsyncStream<@Sendable () async -> Void>.Continuation
    let errorLog: ServerErrorLog?
    private var io: ConnectionIO?
    private var phase = Phase.idle
    private var queue = CircularBuffer<Queued>()
    private var readHeldForQueue = false
    /// The body of the request being received (until its end, or until the response ended and the rest is dropped).
    private var receiving: RequestBodyStream?
    private var version = HTTPVersion.http1_1
    private var keepAlive = true
    private var isHead = false
    private var inputClosed = false
    /// The connection closes once the current response is written: no further request is started.
    private var closing = false

    init(responder: ProxyRequestResponder, connection: ClientConnection,
         jobs: AsyncStream<@Sendable () async -> Void>.Continuation, errorLog: ServerErrorLog?) {
        self.responder = responder
        self.connection = connection
        self.jobs = jobs
        self.errorLog = errorLog
    }

    func handlerAdded(context: ChannelHandlerContext) {
        io = ConnectionIO(channel: context.channel, connection: connection)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if phase == .active(ended: true) || !queue.isEmpty {
            queue.append(.part(part))
            return
        }
        handle(part, context: context)
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            guard !closing, let io else { return }
            phase = .active(ended: false)
            version = head.version
            keepAlive = head.isKeepAlive
            isHead = head.method == .HEAD
            let body = RequestBodyStream(channel: context.channel)
            receiving = body
            if head.version.major == 1 && head.version.minor >= 1, head.headers.contains(name: "expect"),
               head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                let interim = HTTPResponseHead(version: head.version, status: .continue)
                context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
            }
            let responder = responder
            guard let converted = Self.request(head) else {
                Task(executorPreference: io.executor) {
                    await io.send(ControlChannel.reply(400, error: "malformed request"))
                }
                return
            }
            let request = Request(head: converted, body: RequestBody(asyncSequence: body))
            if responder.mounts(request) {
                // The web admin's event feed ends on graceful shutdown (`cancelOnGracefulShutdown`): it needs the
                // server's task context, which only a child of the connection's task has.
                jobs.yield { await io.send(await responder.respond(to: request, io: io)) }
                return
            }
            Task(executorPreference: io.executor) {
                await io.send(await responder.respond(to: request, io: io))
            }
        case .body(let part):
            if phase == .draining { return }
            receiving?.append(part)
        case .end:
            receiving?.finish(nil)
            receiving = nil
            switch phase {
            case .draining: phase = .idle
            case .active: phase = .active(ended: true)
            case .idle: break
            }
        }
    }

    /// `try? HTTPRequest(head, secure: false, splitCookie: false)`. An origin-form target (`/…`, every proxied
    /// request) has no scheme, so that conversion keeps it as the path unchanged: here it does so without parsing it
    /// with `URLComponents` first (~1 % of the event loop's time per request).
    static func request(_ head: HTTPRequestHead) -> HTTPRequest? {
        guard head.uri.utf8.first == UInt8(ascii: "/") else { return try? HTTPRequest(head, secure: false, splitCookie: false) }
        guard let method = try? HTTPRequest.Method(head.method) else { return nil }
        return HTTPRequest(method: method, scheme: "http", authority: head.headers.first(name: "Host"), path: head.uri,
                           headerFields: HTTPFields(head.headers, splitCookie: false))
    }

    /// After a response: handles what waited, up to the next request whose response is then pending.
    private func handleQueue(context: ChannelHandlerContext) {
        while phase != .active(ended: true), let next = queue.popFirst() {
            switch next {
            case .part(let part): handle(part, context: context)
            case .error(let error): failed(error, context: context)
            }
        }
        if queue.isEmpty && readHeldForQueue {
            readHeldForQueue = false
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            head.version = version
            if version.major == 1 && version.minor == 0 && keepAlive {
                let framed = isHead || head.status == .noContent || head.status == .notModified
                    || head.headers.contains(name: "content-length")
                keepAlive = framed
            }
            if !keepAlive || inputClosed || closing {
                head.headers.replaceOrAdd(name: "connection", value: "close")
            } else if version.major == 1 && version.minor == 0 {
                head.headers.replaceOrAdd(name: "connection", value: "keep-alive")
            }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            if phase == .active(ended: false) {
                // A request body still coming is read and dropped (the connection stays usable).
                receiving?.discard()
                phase = .draining
            } else {
                phase = .idle
            }
            if !keepAlive || inputClosed || closing {
                closing = true
                queue.removeAll()
                let channel = context.channel
                let written = promise ?? context.eventLoop.makePromise()
                written.futureResult.whenComplete { _ in channel.close(promise: nil) }
                context.write(data, promise: written)
            } else {
                context.write(data, promise: promise)
                handleQueue(context: context)
            }
        }
    }

    func read(context: ChannelHandlerContext) {
        if !queue.isEmpty { readHeldForQueue = true; return }
        if let receiving, receiving.holdsRead() { return }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            receiving?.finish(ClientWentAway())
            if phase != .active(ended: false) && phase != .active(ended: true) { context.close(promise: nil) }
        } else if event is ChannelShouldQuiesceEvent {
            closing = true
            if phase == .idle || phase == .draining { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        io?.writabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        jobs.finish()
    }

    func channelInactive(context: ChannelHandlerContext) {
        jobs.finish()
        io?.closed()
        receiving?.finish(ClientWentAway())
        receiving = nil
        queue.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Errors of the connection itself (a client sending broken HTTP) go to server_error.log; resets and closes
        // are not errors.
        if let errorLog, !(error is IOError), !(error is ChannelError) {
            let peer = context.channel.remoteAddress.map { "\($0)" } ?? "unknown"
            errorLog.append(level: .error, "client \(peer): \(String(reflecting: error))")
        }
        guard error is HTTPParserError || error is ByteToMessageDecoderError else {
            context.close(promise: nil)
            return
        }
        // Broken input: nothing after it is read; it is answered in its turn.
        if phase == .active(ended: true) || !queue.isEmpty {
            queue.append(.error(error))
        } else {
            failed(error, context: context)
        }
    }

    /// A parse error in its turn: a body being read fails; with no response open, `400` and close.
    private func failed(_ error: any Error, context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        queue.removeAll()
        receiving?.finish(error)
        receiving = nil
        guard phase != .active(ended: false) else { return }   // its response closes the connection when done
        let head = HTTPResponseHead(version: .http1_1, status: .badRequest,
                                    headers: HTTPHeaders([("Connection", "close"), ("Content-Length", "0")]))
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [channel = context.channel] _ in
            channel.close(promise: nil)
        }
    }
}

/// The client's connection ended while its request body was still being read.
struct ClientWentAway: Error, CustomStringConvertible {
    var description: String { "the client closed its connection" }
}

/// What an exchange's task uses of its client connection: writing the response (with backpressure: a write that
/// leaves the channel unwritable waits until it drains) and the connection's end (`ClientConnection`).
final class ConnectionIO: Sendable {
    let channel: any Channel
    let connection: ClientConnection
    let executor: EventLoopTaskExecutor
    private struct State {
        var closed = false
        var waiters: [CheckedContinuation<Void, any Error>] = []
    }
    private let state = Mutex(State())

    init(channel: any Channel, connection: ClientConnection) {
        self.channel = channel
        self.connection = connection
        self.executor = EventLoopTaskExecutor.of(channel.eventLoop)
    }

    /// Writes `response`: the head (flushed with the first body bytes), the body, the end. A body that fails part
    /// way (its message cannot be completed any more) closes the connection.
    func send(_ response: Response) async {
        var headers = HTTPHeaders()
        headers.reserveCapacity(response.headers.count + 1)
        for field in response.headers { headers.add(name: field.name.rawName, value: field.value) }
        headers.add(name: "date", value: HTTPDate.now)
        let status = HTTPResponseStatus(statusCode: response.status.code, reasonPhrase: response.status.reasonPhrase)
        channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)),
                      promise: nil)
        let writer = ChannelBodyWriter(io: self, unsent: response.body.contentLength)
        do { try await response.body.write(writer) } catch { channel.close(promise: nil) }
    }

    /// Waits until the channel is writable again; throws when the connection closed meanwhile.
    func waitWritable() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let now: Bool? = state.withLock { s in
                if s.closed { return false }
                if channel.isWritable { return true }
                s.waiters.append(c)
                return nil
            }
            switch now {
            case true?: c.resume()
            case false?: c.resume(throwing: ChannelError.ioOnClosedChannel)
            case nil: break
            }
        }
    }

    fileprivate func writabilityChanged(_ writable: Bool) {
        guard writable else { return }
        let waiters = state.withLock { s in
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    fileprivate func closed() {
        let waiters = state.withLock { s in
            s.closed = true
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.resume(throwing: ChannelError.ioOnClosedChannel) }
    }
}

/// Writes a response body to the client's channel. Every piece is flushed at once (streams must not wait), except
/// the piece that completes a body of known length: the end follows it at once and goes out in the same write
/// (a buffered response is one `writev` with its head).
struct ChannelBodyWriter: ResponseBodyWriter {
    let io: ConnectionIO
    /// Bytes of a known-length body still to come (nil: length unknown).
    var unsent: Int?

    mutating func write(_ buffer: ByteBuffer) async throws {
        let channel = io.channel
        guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
        if let left = unsent {
            unsent = left - buffer.readableBytes
            if left - buffer.readableBytes <= 0 {
                channel.write(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
                return
            }
        }
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
        if !channel.isWritable { try await io.waitWritable() }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        io.channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
    }

    /// Whether the client's connection is still open.
    var isOpen: Bool { io.channel.isActive }

    /// Writes the body's last bytes and its end with one flush (one `writev`, with the head when nothing was
    /// flushed before): for a piece that arrived together with the upstream body's end.
    consuming func finish(last: ByteBuffer) async throws {
        let channel = io.channel
        guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
        channel.write(HTTPServerResponsePart.body(.byteBuffer(last)), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
    }
}

/// A request body as it arrives from the client, read by the exchange's task (an `AsyncSequence` of the parts).
///
/// Backpressure: while more than `highWater` bytes wait unread, the connection's handler holds the socket's reads
/// (`holdsRead`); the reader lets them go again once it has taken the buffer below `lowWater`. So an upload that
/// upstream takes slowly holds at most `highWater` + one read here (and `UpstreamTransfer.highWater` in curl's queue).
final class RequestBodyStream: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    static let highWater = 256 * 1024
    static let lowWater = 64 * 1024

    private struct State {
        var parts = CircularBuffer<ByteBuffer>()
        var buffered = 0
        var ended = false
        var failure: (any Error)?
        var waiter: CheckedContinuation<ByteBuffer?, any Error>?
        var readHeld = false
        var discarding = false
    }
    private let state = Mutex(State())
    private let channel: any Channel

    init(channel: any Channel) { self.channel = channel }

    // MARK: the handler's side (event loop)

    func append(_ part: ByteBuffer) {
        let waiter = state.withLock { s -> CheckedContinuation<ByteBuffer?, any Error>? in
            if s.discarding || s.ended { return nil }
            if let w = s.waiter { s.waiter = nil; return w }
            s.parts.append(part)
            s.buffered += part.readableBytes
            return nil
        }
        waiter?.resume(returning: part)
    }

    /// The body is complete (nil) or failed.
    func finish(_ failure: (any Error)?) {
        let waiter = state.withLock { s -> CheckedContinuation<ByteBuffer?, any Error>? in
            if s.ended { return nil }
            s.ended = true
            s.failure = failure
            defer { s.waiter = nil }
            return s.waiter
        }
        if let failure { waiter?.resume(throwing: failure) } else { waiter?.resume(returning: nil) }
    }

    /// Whether the socket's next read waits for the reader.
    func holdsRead() -> Bool {
        state.withLock { s in
            guard !s.discarding, !s.ended, s.buffered >= Self.highWater else { return false }
            s.readHeld = true
            return true
        }
    }

    /// The response is complete: what is left of the body is read and dropped.
    func discard() {
        let (held, waiter) = state.withLock { s -> (Bool, CheckedContinuation<ByteBuffer?, any Error>?) in
            s.discarding = true
            s.parts.removeAll()
            s.buffered = 0
            defer { s.readHeld = false; s.waiter = nil }
            return (s.readHeld, s.waiter)
        }
        waiter?.resume(returning: nil)
        if held { channel.read() }
    }

    // MARK: the reader's side

    private enum Step {
        case part(ByteBuffer, read: Bool)
        case end
        case failed(any Error)
        case wait
    }

    func next() async throws -> ByteBuffer? {
        switch state.withLock({ Self.take(&$0) }) {
        case .part(let part, let read):
            if read { channel.read() }
            return part
        case .end: return nil
        case .failed(let error): throw error
        case .wait: break
        }
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<ByteBuffer?, any Error>) in
            let step = state.withLock { s -> Step in
                let step = Self.take(&s)
                if case .wait = step { s.waiter = c }
                return step
            }
            switch step {
            case .part(let part, let read):
                if read { channel.read() }
                c.resume(returning: part)
            case .end: c.resume(returning: nil)
            case .failed(let error): c.resume(throwing: error)
            case .wait: break
            }
        }
    }

    /// The next buffered part (and whether the held reads may go again), the end, or nothing yet.
    private static func take(_ s: inout State) -> Step {
        if let part = s.parts.popFirst() {
            s.buffered -= part.readableBytes
            let read = s.readHeld && s.buffered < lowWater
            if read { s.readHeld = false }
            return .part(part, read: read)
        }
        if s.ended || s.discarding { return s.failure.map { .failed($0) } ?? .end }
        return .wait
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let stream: RequestBodyStream
        mutating func next() async throws -> ByteBuffer? { try await stream.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }
}

/// The `Date` header's value (RFC 9110 IMF-fixdate), made once per second.
enum HTTPDate {
    private static let cache = Mutex<(Int, String)>((0, ""))
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static var now: String {
        let t = time(nil)
        return cache.withLock { c in
            if c.0 == t && !c.1.isEmpty { return c.1 }
            var clock = t
            var parts = tm()
            gmtime_r(&clock, &parts)
            func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
            let text = "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
                + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
            c = (t, text)
            return text
        }
    }
}
