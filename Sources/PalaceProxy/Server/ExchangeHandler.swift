import Hummingbird
import PalaceLog
import Synchronization

/// Forwards one client request upstream and relays the answer, recording it (DESIGN.md "One exchange").
///
/// Order of effects, and why: (1) the first ≤ 64 KiB of the request body are read; (2) the `begin` record is
/// appended — before anything goes upstream, so a crash leaves an incomplete exchange, never a missing one;
/// (3) the upstream transfer starts and the rest of the body streams up; (4) the head comes back; (5) the body
/// is relayed — buffered when it is a small non-stream body, else written to the client piece by piece as it
/// arrives; (6) the `end` record is appended *before* the client's response completes (before the last bytes of a
/// known-length body, before the terminating chunk of a chunked one), so every response a client received in full
/// is on the log; (7) the log block is printed.
struct ExchangeHandler: Sendable {
    static let beginBodyBytes = 64 * 1024
    /// Non-stream bodies of known length up to this size are relayed in one write, after the end record.
    static let bufferedBodyLimit = 8 << 20

    let context: ProxyContext

    func handle(_ request: Request, client: ClientConnection? = nil, executor: (any TaskExecutor)? = nil) async -> Response {
        let method = request.method.rawValue
        let target = request.head.path ?? "/"
        if target == "/" && (method == "GET" || method == "HEAD") {
            return WelcomePage.response(context, head: method == "HEAD")
        }
        if let reply = await ControlChannel.respond(to: request, context: context) { return reply }
        var plan = HeaderPolicy.request(method: method, fields: request.headers, key: context.config.key)
        plan.meta = ControlChannel.takeLink(&plan.headers, token: context.config.controlToken)
        let features = ChatRequestFeatures(context: context, method: method, target: target)
        if features.decodesForClient { plan.decodeForClient() }
        let exchange = ExchangeState(context: context, method: method, target: target, plan: plan)
        exchange.chat.isChat = features.isChat

        // (1) first part of the body (all of it, within a limit, when a chat feature needs to read it)
        var body = request.body.makeAsyncIterator()
        var first = ByteBuffer()
        var bodyDone = plan.bodyLength == nil || plan.bodyLength == 0
        var readFailure: UpstreamFailure?
        let readLimit = features.needsWholeBody ? ChatRequestFeatures.wholeBodyLimit : Self.beginBodyBytes
        while !bodyDone && first.readableBytes < readLimit {
            do {
                if var part = try await body.next() { first.writeBuffer(&part) } else { bodyDone = true }
            } catch {
                readFailure = UpstreamFailure(step: .readRequestBody, message: "reading the client's request body failed: \(error)")
                break
            }
        }
        // Force-stream decides on the whole body before the begin record (whose flags say so).
        let upstreamBody = readFailure == nil ? features.forceStream(body: first, complete: bodyDone, exchange: exchange) : nil
        // (2) begin record
        var beginPart = first.getSlice(at: first.readerIndex, length: min(first.readableBytes, Self.beginBodyBytes)) ?? ByteBuffer()
        let rest = first.getSlice(at: first.readerIndex + beginPart.readableBytes, length: first.readableBytes - beginPart.readableBytes)
        await exchange.recordBegin(requestBody: beginPart.readBytes(length: beginPart.readableBytes) ?? [],
                                   complete: bodyDone && (rest?.readableBytes ?? 0) == 0)
        if let rest, rest.readableBytes > 0 { await exchange.recorder.requestBody(rest) }
        if let readFailure { return await exchange.fail(readFailure) }
        // Auto-cache headers (may create a cache upstream first); the record keeps the client's original request.
        let headers = plan.headers + (await features.cacheHeaders(body: first, complete: bodyDone, exchange: exchange))
        let bodyLength = upstreamBody.map { Int64($0.readableBytes) } ?? plan.bodyLength

        // (3) upstream
        var transfer: any UpstreamCall
        do {
            // On the client connection's event loop when the NIO client carries this proxy's calls (`UpstreamClient`).
            transfer = try context.upstream.call(UpstreamRequest(
                method: method, url: context.config.endpoint + target, headers: headers,
                bodyLength: bodyLength, decodeCompression: !plan.clientAcceptsGzip,
                idleTimeoutSeconds: context.config.idleTimeoutSeconds),
                on: (executor as? EventLoopTaskExecutor)?.loop)
        } catch {
            return await exchange.fail(error)
        }
        let firstBody = upstreamBody ?? first
        // A whole body read for the chat features can exceed what sendBody queues before curl reads: start first.
        let startFirst = firstBody.readableBytes > UpstreamTransfer.highWater
        if startFirst { exchange.sentAt = Clock.nanos(); transfer.start() }
        if let bodyLength {
            if bodyDone && bodyLength >= 0 && !startFirst {
                // The whole body is here: curl sends it with the request head (one write, no read callbacks).
                transfer.setWholeBody(firstBody)
            } else {
                await transfer.sendBody(firstBody)
                if bodyDone { transfer.finishBody() }
            }
        }
        if !startFirst { exchange.sentAt = Clock.nanos(); transfer.start() }
        if !bodyDone {
            do {
                while var part = try await body.next() {
                    await exchange.recorder.requestBody(part)
                    await transfer.sendBody(part)
                    part.clear()
                }
                await exchange.recorder.finishRequestBody()
                transfer.finishBody()
            } catch {
                transfer.abortBody(UpstreamFailure(step: .readRequestBody,
                                                   message: "reading the client's request body failed: \(error)"))
            }
        }
        // Once the request is in, a client that goes away cancels the upstream call (while waiting for the head or the
        // body too). Before, its leaving shows as a failed body read: the step that names what went wrong.
        let watch = DisconnectWatch(client: client, transfer: transfer)

        // (4) head
        var head: UpstreamHead
        switch await transfer.head() {
        case .failure(let failure):
            watch.stop()
            return await exchange.fail(failure)
        case .success(let h): head = h
        }
        if exchange.chat.cacheID != nil {
            // Auto-cache: an API answer saying the cache is gone makes it forgotten and the call retried without it.
            switch await features.retryIfCacheRejected(head: head, transfer: transfer, exchange: exchange,
                                                        headers: plan.headers, body: firstBody, bodyLength: bodyLength) {
            case .proceed: break
            case .respond(let response): watch.stop(); return response
            case .retried(let t, let h): transfer = t; head = h; watch.follow(t)
            }
        }
        exchange.received(head: head, at: transfer.headAtNanos)
        return await relay(head: head, transfer: transfer, exchange: exchange, watch: watch, executor: executor)
    }

    /// (5)–(7): relays the body, buffered or streamed.
    private func relay(head: UpstreamHead, transfer: any UpstreamCall, exchange: ExchangeState,
                       watch: DisconnectWatch, executor: (any TaskExecutor)?) async -> Response {
        let status = HTTPResponse.Status(code: head.status, reasonPhrase: head.reason)
        if exchange.convertsToJSON {
            defer { watch.stop() }
            return await convert(status: status, head: head, transfer: transfer, exchange: exchange)
        }
        let noBody = exchange.method == "HEAD" || head.status == 204 || head.status == 304
        let upstreamLength = exchange.known.contentLength.flatMap { Int($0) }
        let declared = exchange.curlDecoded ? nil : upstreamLength
        let fields = HeaderPolicy.response(head.headers, dropEncoding: exchange.curlDecoded, keepLength: noBody)
        // Small non-stream bodies (by the upstream's own length, encoded or not) are relayed in one write.
        if noBody || (!exchange.tap.isSSE && (upstreamLength ?? .max) <= Self.bufferedBodyLimit) {
            var all = ByteBuffer()
            while true {
                switch await transfer.nextBody() {
                case .bytes(let b):
                    await exchange.observe(b)
                    if all.readableBytes == 0 { all = b; continue }   // the usual case: one piece, no copy
                    var b = b
                    all.writeBuffer(&b)
                case .end:
                    watch.stop()
                    await exchange.finish()
                    return noBody ? Response(status: status, headers: fields)
                        : Response(status: status, headers: fields, body: ResponseBody(byteBuffer: all))
                case .failed(let failure):
                    watch.stop()
                    return await exchange.fail(failure)
                }
            }
        }

        let isSSE = exchange.tap.isSSE
        let watched = exchange.watchesRepeat
        // If the client is gone before the head is written, Hummingbird drops the body unrun: end the exchange then.
        let unrun = UnrunBody {
            watch.stop()
            let failure = UpstreamFailure(step: .clientDisconnected, message: "the client went away before the response head was sent")
            transfer.cancel(failure)
            Task { _ = await exchange.fail(failure) }
        }
        let body = ResponseBody(contentLength: watched ? nil : declared) { writer in
            // The body is written by the server's connection task, outside the handler's executor preference: put it
            // back on the connection's event loop, so each piece that the curl thread hands over is written there
            // without another hop.
            try await withTaskExecutorPreference(executor) {
                unrun.ran()
                defer { watch.stop() }
                var sent = 0
                var held: ByteBuffer?
                /// Writes to the client; a failed write means the client left, and the exchange ends with that step.
                func forward(_ bytes: ByteBuffer) async throws {
                    do { try await writer.write(bytes) } catch {
                        let failure = UpstreamFailure(step: .clientDisconnected, message: "the client went away: \(error)")
                        transfer.cancel(failure)
                        _ = await exchange.fail(failure)
                        throw error
                    }
                }
                while true {
                    switch await transfer.nextBody() {
                    case .bytes(let b) where watched:
                        // --detect-repeat: observe first, forward only up to the end of a tripping event.
                        let part = await exchange.observeCutting(b)
                        if part.readableBytes > 0 { try await forward(part) }
                        guard exchange.repeatTripped else { continue }
                        let tail = await exchange.repeatTail()
                        await exchange.finish()
                        transfer.cancel(UpstreamFailure(step: .readResponseBody, message: "stream cut by the repeat detector"))
                        try await writer.write(tail)
                        try await writer.finish(nil)
                        return
                    case .bytes(let b) where declared == nil && transfer.bodyEndsHere:
                        // The body's end came with these bytes (a whole stream in one read): the end record first,
                        // then the bytes and the body's end in one write (the end record precedes the client's
                        // last byte either way; one syscall and one client read fewer). A client already gone
                        // takes the usual path below, so the record says it left.
                        if let channelWriter = writer as? ChannelBodyWriter, channelWriter.isOpen {
                            await exchange.observe(b)
                            await exchange.finish()
                            try await channelWriter.finish(last: b)
                            return
                        }
                        try await forward(b)
                        await exchange.observe(b)
                    case .bytes(let b):
                        if let declared, sent + b.readableBytes >= declared {
                            // The completing bytes wait for the end record (invariant 6).
                            await exchange.observe(b)
                            held = b
                            continue
                        }
                        try await forward(b)
                        sent += b.readableBytes
                        await exchange.observe(b)
                    case .end:
                        await exchange.finish()
                        if let held { try await writer.write(held) }
                        try await writer.finish(nil)
                        return
                    case .failed(let failure):
                        _ = await exchange.fail(failure)
                        if isSSE { try? await writer.write(ProxyErrorResponse.sseEvent(failure)) }
                        throw failure
                    }
                }
            }
        }
        return Response(status: status, headers: fields, body: body)
    }

    /// Force-stream conversion: reads the whole upstream stream (cut short by the repeat detector if it trips),
    /// records it, and answers the client — who did not ask for a stream — with the merged `chat.completion`.
    private func convert(status: HTTPResponse.Status, head: UpstreamHead, transfer: any UpstreamCall,
                         exchange: ExchangeState) async -> Response {
        reading: while true {
            switch await transfer.nextBody() {
            case .bytes(let b):
                if exchange.watchesRepeat { _ = await exchange.observeCutting(b) } else { await exchange.observe(b) }
                if exchange.repeatTripped {
                    _ = await exchange.repeatTail()
                    transfer.cancel(UpstreamFailure(step: .readResponseBody, message: "stream cut by the repeat detector"))
                    break reading
                }
            case .end:
                break reading
            case .failed(let failure):
                return await exchange.fail(failure)
            }
        }
        guard let json = exchange.convertedBody() else {
            return await exchange.fail(UpstreamFailure(
                step: .readResponseBody, message: "force-stream: the upstream stream carried no chat.completion chunk"))
        }
        await exchange.finish()
        var fields = HeaderPolicy.response(head.headers, dropEncoding: true, keepLength: false)
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: json))
    }
}

/// Cancels an exchange's upstream transfer when its client goes away (see `ClientConnection`); `stop()` once the
/// exchange ended, so a later close of a kept-alive connection touches nothing; `follow(_:)` when the exchange
/// moved to another transfer (auto-cache retry).
final class DisconnectWatch: Sendable {
    private final class Current: Sendable {
        let transfer: Mutex<any UpstreamCall>
        init(_ transfer: any UpstreamCall) { self.transfer = Mutex(transfer) }
        func cancel() {
            transfer.withLock { $0 }.cancel(UpstreamFailure(
                step: .clientDisconnected, message: "the client closed its connection before the response was complete"))
        }
    }
    private let client: ClientConnection?
    private let token: Int?
    private let current: Current

    init(client: ClientConnection?, transfer: any UpstreamCall) {
        self.client = client
        let current = Current(transfer)
        self.current = current
        guard let client else { token = nil; return }
        token = client.onClose { current.cancel() }
        if token == nil { current.cancel() }   // already gone
    }

    func follow(_ next: any UpstreamCall) {
        current.transfer.withLock { $0 = next }
        if client?.isClosed == true { current.cancel() }
    }

    func stop() { client?.remove(token) }
}

/// Runs `dropped` when the last reference goes without `ran()` having been called (a response body closure that
/// the server released without running it).
final class UnrunBody: Sendable {
    private let state = Mutex(false)
    private let dropped: @Sendable () -> Void

    init(dropped: @escaping @Sendable () -> Void) { self.dropped = dropped }

    func ran() { state.withLock { $0 = true } }

    deinit { if !state.withLock({ $0 }) { dropped() } }
}
