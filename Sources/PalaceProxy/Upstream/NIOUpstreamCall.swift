#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOPosix
import PalaceLog

/// One upstream HTTP/1.1 call on the client connection's own event loop (plain `http://`, no proxy): SwiftNIO's
/// request encoder and response decoder on a kept-alive connection from `NIOUpstreamLoopPool`.
///
/// Invariant: all state is used on `eventLoop` only. The exchange's task runs there too (its executor is the client
/// connection's loop), so a call that finds its answer already there returns without suspending, and a wait resumes
/// on the same thread: no thread hop in a whole non-stream exchange. A method called from another thread hops to
/// the loop first.
///
/// Same behaviour as `UpstreamTransfer` (curl): the bytes sent (request line as-is, Host, curl's Accept-Encoding when
/// it decodes, the client's headers in order, curl's framing headers and default Content-Type for bodies, no
/// Expect), the failure steps, the idle timeout (no byte either way for N seconds, paused directions excepted; the
/// connect timeout is the same value), backpressure both ways (reads held above `UpstreamTransfer.highWater` unread;
/// `sendBody` waits above `highWater` unsent), gzip/deflate decoded when the client did not accept gzip, and one
/// retry on a fresh connection when a reused one turns out closed before any answer byte (body replayable).
/// Differences: curl also offers br and zstd (`Accept-Encoding: deflate, gzip`, not `deflate, gzip, br, zstd`); a
/// known status code's reason phrase is the standard one (NIOHTTP1 keeps custom phrases only for unknown codes).
final class NIOUpstreamCall: UpstreamCall, @unchecked Sendable {
    let eventLoop: any EventLoop
    private let pool: NIOUpstreamLoopPool
    private let target: NIOUpstreamTarget
    private let url: String
    private let requestHead: HTTPRequestHead
    private let decode: Bool
    private let idleNanos: UInt64
    private let idleSeconds: Int

    // Phase.
    private var started = false
    private var connection: NIOUpstreamConnection?
    private var retried = false
    private var finished = false
    private var failure: UpstreamFailure?
    private var lastActivity: UInt64 = 0
    // Request body.
    private var pending = CircularBuffer<ByteBuffer>()
    private var pendingBytes = 0
    private var uploadFinished = false
    private var endWritten = false
    /// Copies of the body parts written on the current connection, for a retry (nil: too large to replay).
    private var sent: [ByteBuffer]? = []
    private var sentBytes = 0
    private var uploadWaiter: CheckedContinuation<Void, Never>?
    // Response.
    private var responseHead: HTTPResponseHead?
    private var head: UpstreamHead?
    private(set) var headAtNanos: UInt64 = 0
    private var headWaiter: CheckedContinuation<Result<UpstreamHead, UpstreamFailure>, Never>?
    private var body = ByteBuffer()
    private var bodyWaiter: CheckedContinuation<UpstreamBodyEvent, Never>?
    private var gunzip: GzipDecoder?

    init(request: UpstreamRequest, path: String, target: NIOUpstreamTarget, pool: NIOUpstreamLoopPool) {
        self.eventLoop = pool.eventLoop
        self.pool = pool
        self.target = target
        self.url = request.url
        self.decode = request.decodeCompression
        self.idleSeconds = max(1, request.idleTimeoutSeconds)
        self.idleNanos = UInt64(idleSeconds) * 1_000_000_000
        self.requestHead = Self.head(request, path: path, target: target)
        if request.bodyLength == nil { uploadFinished = true }
    }

    /// The request head curl sends for `request` (see `UpstreamTransfer.configure`).
    static func head(_ request: UpstreamRequest, path: String, target: NIOUpstreamTarget) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(request.headers.count + 4)
        headers.add(name: "Host", value: target.hostHeader)
        if request.decodeCompression { headers.add(name: "Accept-Encoding", value: "deflate, gzip") }
        var hasContentType = false
        for field in request.headers {
            if !hasContentType && UpstreamHead.equalsLowercased(field.name, "content-type") { hasContentType = true }
            headers.add(name: field.name, value: field.value)
        }
        if let length = request.bodyLength {
            // curl's order: the framing header, then its POST default Content-Type.
            if length < 0 { headers.add(name: "Transfer-Encoding", value: "chunked") }
            else { headers.add(name: "Content-Length", value: String(length)) }
            if !hasContentType { headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded") }
        }
        return HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: request.method.uppercased()),
                               uri: path, headers: headers)
    }

    /// Runs `body` on the loop: at once when already there.
    @inline(__always) private func onLoop(_ body: @escaping () -> Void) {
        if eventLoop.inEventLoop { body() } else {
            nonisolated(unsafe) let body = body
            eventLoop.execute { body() }
        }
    }

    // MARK: the exchange's side

    func start() {
        onLoop { [self] in
            guard !started, !finished else { return }
            started = true
            pool.register(self)
            if let conn = pool.takeIdle(target.key) { attach(conn) } else { connectFresh() }
        }
    }

    func setWholeBody(_ bytes: ByteBuffer) {
        onLoop { [self] in
            pending.append(bytes)
            pendingBytes += bytes.readableBytes
            uploadFinished = true
        }
    }

    func head() async -> Result<UpstreamHead, UpstreamFailure> {
        await withCheckedContinuation { c in
            onLoop { [self] in
                if let head { c.resume(returning: .success(head)) }
                else if let failure { c.resume(returning: .failure(failure)) }
                else if finished {
                    c.resume(returning: .failure(UpstreamFailure(step: .readResponseHead,
                                                                 message: "upstream closed without a response (upstream \(url))")))
                } else { headWaiter = c }
            }
        }
    }

    func nextBody() async -> UpstreamBodyEvent {
        await withCheckedContinuation { c in
            onLoop { [self] in
                if body.readableBytes > 0 { c.resume(returning: .bytes(drain())) }
                else if let failure { c.resume(returning: .failed(failure)) }
                else if finished { c.resume(returning: .end) }
                else { bodyWaiter = c }
            }
        }
    }

    /// Known on the loop only (where the exchange's task runs): elsewhere false, and the caller waits for `.end`.
    var bodyEndsHere: Bool { eventLoop.inEventLoop && finished && failure == nil && body.readableBytes == 0 }

    func sendBody(_ bytes: ByteBuffer) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            onLoop { [self] in
                // A finished call (failed, or answered before the whole body went) no longer wants it: dropped.
                if finished || bytes.readableBytes == 0 { c.resume(); return }
                pending.append(bytes)
                pendingBytes += bytes.readableBytes
                pump()
                if pendingBytes > UpstreamTransfer.highWater && !finished { uploadWaiter = c } else { c.resume() }
            }
        }
    }

    func finishBody() {
        onLoop { [self] in
            uploadFinished = true
            pump()
        }
    }

    func abortBody(_ failure: UpstreamFailure) { cancel(failure) }

    func cancel(_ failure: UpstreamFailure) {
        onLoop { [self] in fail(failure) }
    }

    // MARK: connection

    private func connectFresh() {
        pool.connect(target, timeoutSeconds: idleSeconds).whenComplete { [self] result in
            switch result {
            case .success(let conn):
                if finished { conn.close() } else { attach(conn) }
            case .failure(let error):
                fail(connectFailure(error))
            }
        }
    }

    private func attach(_ conn: NIOUpstreamConnection) {
        connection = conn
        conn.attach(self)
        lastActivity = Clock.nanos()
        endWritten = false
        conn.write(.head(requestHead))
        if let sent {
            // A retry: the body parts already written on the failed connection go again first.
            for part in sent { conn.write(.body(.byteBuffer(part))) }
        }
        pump()
        conn.flush()
    }

    /// Writes queued body parts while the connection takes them, then the end once the body is complete.
    private func pump() {
        guard let conn = connection else { return }
        var wrote = false
        while conn.isWritable, let part = pending.popFirst() {
            pendingBytes -= part.readableBytes
            conn.write(.body(.byteBuffer(part)))
            wrote = true
            if sent != nil {
                sentBytes += part.readableBytes
                if sentBytes > UpstreamTransfer.highWater { sent = nil } else { sent?.append(part) }
            }
        }
        if pending.isEmpty && uploadFinished && !endWritten {
            conn.write(.end(nil))
            endWritten = true
            wrote = true
        }
        if wrote {
            lastActivity = Clock.nanos()
            conn.flush()
        }
        if pendingBytes <= UpstreamTransfer.highWater, let w = uploadWaiter {
            uploadWaiter = nil
            w.resume()
        }
    }

    /// The connection can take more (NIO's writability).
    func writable() {
        pump()
    }

    /// Whether the connection should hold its next socket read (the reader is behind).
    var holdsRead: Bool { body.readableBytes >= UpstreamTransfer.highWater }

    /// A response part from the connection.
    func received(_ part: HTTPClientResponsePart) {
        guard !finished else { return }
        lastActivity = Clock.nanos()
        switch part {
        case .head(let h):
            responseHead = h
            var fields: [HeaderField] = []
            fields.reserveCapacity(h.headers.count)
            for (name, value) in h.headers { fields.append(HeaderField(name: name, value: value)) }
            let upstream = UpstreamHead(status: Int(h.status.code), reason: h.status.reasonPhrase, headers: fields)
            head = upstream
            headAtNanos = Clock.nanos()
            if decode, let coding = upstream.header("content-encoding")?.trimmingCharacters(in: " \t").lowercased(),
               coding == "gzip" || coding == "x-gzip" || coding == "deflate" {
                gunzip = GzipDecoder()
            }
        case .body(let bytes):
            if let gunzip {
                let decoded = gunzip.decode(bytes.readableBytesView)
                if let error = gunzip.error {
                    fail(UpstreamFailure(step: .readResponseBody,
                                         message: "Error while processing content unencoding: \(error) (upstream \(url))"))
                    return
                }
                if !decoded.isEmpty { body.writeBytes(decoded) }
            } else if body.readableBytes == 0 {
                body = bytes
            } else {
                var bytes = bytes
                body.writeBuffer(&bytes)
            }
        case .end:
            // Reusable: a keep-alive answer to a request sent in full.
            let reusable = endWritten && (responseHead?.isKeepAlive ?? false) && !pool.stopped
            finish(reusable: reusable)
        }
    }

    /// The connection ended or failed while carrying this call.
    func connectionFailed(_ conn: NIOUpstreamConnection, error: (any Error)?) {
        guard connection === conn, !finished else { return }
        connection = nil
        // A reused connection that the server had closed: nothing of the answer came; the request goes again once
        // on a fresh connection when its body can be sent again (curl does the same).
        if conn.uses > 0 && !conn.receivedForCall && !retried && sent != nil && head == nil {
            retried = true
            connectFresh()
            return
        }
        fail(transferFailure(error))
    }

    /// Resumes the waiters for what arrived in the last read pass (called once per `channelReadComplete`).
    func notifyWaiters() {
        if let head, let w = headWaiter { headWaiter = nil; w.resume(returning: .success(head)) }
        if body.readableBytes > 0, let w = bodyWaiter {
            bodyWaiter = nil
            w.resume(returning: .bytes(drain()))
        }
    }

    private func drain() -> ByteBuffer {
        let out = body
        body = ByteBuffer()
        connection?.resumeReading()
        return out
    }

    /// The idle timeout (the pool's sweeper, once a second): no byte either way for the idle time, except while a
    /// direction is paused (the reader is behind, or the client's body is slow), as curl's low-speed check.
    func checkIdle(now: UInt64) {
        guard !finished, connection != nil else { return }
        if holdsRead { lastActivity = now; return }
        if !endWritten && pending.isEmpty && !uploadFinished { lastActivity = now; return }
        guard now &- lastActivity >= idleNanos else { return }
        fail(UpstreamFailure(step: .timeout, message:
            "Operation too slow. Less than 1 bytes/sec transferred the last \(idleSeconds) seconds (upstream \(url))"))
    }

    // MARK: ending

    private func finish(reusable: Bool) {
        guard !finished else { return }
        finished = true
        pool.unregister(self)
        if let conn = connection {
            connection = nil
            conn.release(reusable: reusable)
        }
        complete()
    }

    /// Ends the call with `failure` (first failure wins); the connection is closed.
    func fail(_ failure: UpstreamFailure) {
        guard !finished else { return }
        self.failure = failure
        finish(reusable: false)
    }

    /// Resumes every waiter with the outcome.
    private func complete() {
        pending.removeAll()
        pendingBytes = 0
        if let w = headWaiter {
            headWaiter = nil
            w.resume(returning: head.map { .success($0) } ?? .failure(failure ?? UpstreamFailure(
                step: .readResponseHead, message: "upstream closed without a response (upstream \(url))")))
        }
        if let w = bodyWaiter {
            bodyWaiter = nil
            w.resume(returning: body.readableBytes > 0 ? .bytes(drain()) : failure.map { .failed($0) } ?? .end)
        }
        if let w = uploadWaiter { uploadWaiter = nil; w.resume() }
    }

    // MARK: failure messages (curl's wording, so records and answers read the same)

    private func connectFailure(_ error: any Error) -> UpstreamFailure {
        let place = "\(target.host) port \(target.port)"
        if case ChannelError.connectTimeout = error {
            return UpstreamFailure(step: .timeout, message:
                "Failed to connect to \(place) after \(idleSeconds * 1000) ms: Timeout was reached (upstream \(url))")
        }
        if let e = error as? NIOConnectionError {
            if e.connectionErrors.isEmpty && (e.dnsAError != nil || e.dnsAAAAError != nil) {
                return UpstreamFailure(step: .connect, message: "Could not resolve host: \(target.host) (upstream \(url))")
            }
            if let first = e.connectionErrors.first?.error {
                return UpstreamFailure(step: .connect, message:
                    "Failed to connect to \(place): \(Self.describe(first)) (upstream \(url))")
            }
        }
        return UpstreamFailure(step: .connect, message: "Failed to connect to \(place): \(Self.describe(error)) (upstream \(url))")
    }

    private func transferFailure(_ error: (any Error)?) -> UpstreamFailure {
        let step: ExchangeStep = head != nil ? .readResponseBody : (endWritten ? .readResponseHead : .sendRequest)
        let detail: String
        switch error {
        case nil:
            detail = head != nil ? "transfer closed with outstanding read data remaining"
                : endWritten ? "Empty reply from server" : "Send failure: connection closed by the upstream"
        case let e? where e is HTTPParserError:
            detail = head != nil ? "transfer closed with outstanding read data remaining" : "Weird server reply (\(e))"
        case let e?:
            detail = (head != nil || endWritten ? "Recv failure: " : "Send failure: ") + Self.describe(e)
        }
        return UpstreamFailure(step: step, message: "\(detail) (upstream \(url))")
    }

    private static func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        return "\(error)"
    }
}
