import Hummingbird
import PalaceLog

extension ChatRequestFeatures {
    enum CacheRetry {
        /// The answer does not concern the cache: relay it as usual.
        case proceed
        /// The error answer was read (to look at it) and did not concern the cache: this is the client's response.
        case respond(Response)
        /// The cache was rejected and forgotten; this transfer (sent without it) and its head replace the first.
        case retried(any UpstreamCall, UpstreamHead)
    }

    /// After the head of a call that carried an auto-cache header: a 4xx whose body names the cache means the API
    /// no longer has it. Then the cache is forgotten at once and the same request goes again without the cache
    /// headers, so a caching failure never fails the user's call. `headers`/`body` are the cache-free request.
    func retryIfCacheRejected(head: UpstreamHead, transfer: any UpstreamCall, exchange: ExchangeState,
                              headers: [HeaderField], body: ByteBuffer, bodyLength: Int64?) async -> CacheRetry {
        guard let cacheID = exchange.chat.cacheID, let cache = context.autoCache,
              (400..<500).contains(head.status), head.status != 401, head.status != 429 else { return .proceed }
        var answer = ByteBuffer()
        reading: while true {
            switch await transfer.nextBody() {
            case .bytes(var b): answer.writeBuffer(&b)
            case .end: break reading
            case .failed(let failure): return .respond(await exchange.fail(failure))
            }
            if answer.readableBytes > 1 << 20 { break }   // not an API error body
        }
        guard answer.readableBytes <= 1 << 20,
              AutoCache.rejects(cacheID, status: head.status, body: Array(answer.readableBytesView)) else {
            exchange.received(head: head, at: transfer.headAtNanos)
            await exchange.observe(answer)
            if answer.readableBytes > 1 << 20 {   // cannot happen for an error JSON; keep relaying what is left
                while case .bytes(let b) = await transfer.nextBody() { await exchange.observe(b); var b = b; answer.writeBuffer(&b) }
            }
            await exchange.finish()
            let fields = HeaderPolicy.response(head.headers, dropEncoding: exchange.curlDecoded, keepLength: false)
            return .respond(Response(status: HTTPResponse.Status(code: head.status, reasonPhrase: head.reason),
                                     headers: fields, body: ResponseBody(byteBuffer: answer)))
        }
        cache.forget(cacheID)
        let reason = String(decoding: answer.readableBytesView.prefix(300), as: UTF8.self)
        exchange.chat.notes.append("auto-cache: the API rejected context cache \(cacheID) (HTTP \(head.status): \(reason)); "
            + "it was forgotten and the call was sent again without it")
        exchange.chat.cacheID = nil
        let retry: UpstreamTransfer
        do {
            retry = try context.loop.transfer(UpstreamRequest(
                method: exchange.method, url: context.config.endpoint + exchange.target, headers: headers,
                bodyLength: bodyLength, decodeCompression: !exchange.plan.clientAcceptsGzip,
                idleTimeoutSeconds: context.config.idleTimeoutSeconds))
        } catch {
            return .respond(await exchange.fail(error))
        }
        exchange.sentAt = Clock.nanos()
        retry.start()
        if bodyLength != nil {
            await retry.sendBody(body)
            retry.finishBody()
        }
        switch await retry.head() {
        case .failure(let failure): return .respond(await exchange.fail(failure))
        case .success(let h): return .retried(retry, h)
        }
    }
}
