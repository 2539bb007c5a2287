import Hummingbird
import PalaceLog
import PalaceWire

/// One exchange's state from arrival to its end record: recorder, stream tap, timings, the log block.
///
/// Invariants: `finish()` or `fail(_:)` runs its effects once (the first call wins), so every begun exchange gets
/// exactly one end record and one log block. Used by one task at a time (the handler, then the response body
/// writer after the handler returned) — hence `@unchecked Sendable` for that hand-off, never shared concurrently.
final class ExchangeState: @unchecked Sendable {
    let context: ProxyContext
    let method: String
    let target: String
    let plan: HeaderPolicy.RequestPlan
    let recorder: ExchangeRecorder
    let arrivedAt = Clock.nanos()
    var sentAt: UInt64 = 0
    private(set) var tap = StreamTap(contentType: nil)
    private var head: UpstreamHead?
    /// The head's headers this exchange reads, found once (`UpstreamHead.known()`); all nil before the head.
    private(set) var known = UpstreamHead.Known()
    private var headAt: UInt64 = 0
    private var gunzip: GzipDecoder?
    private var warnings: [String] = []
    private var ended = false
    /// Streams note when each read of the body arrived (the page's stream timeline); other bodies do not.
    private var notesArrivals = false
    /// Chat-completion features applied to this exchange (force-stream, auto-cache); see `ChatFeatures`.
    var chat = ChatFeatures()

    /// curl negotiated and decoded the response (the client did not ask for gzip).
    var curlDecoded: Bool { !plan.clientAcceptsGzip && known.contentEncoding != nil }

    init(context: ProxyContext, method: String, target: String, plan: HeaderPolicy.RequestPlan) {
        self.context = context
        self.method = method
        self.target = target
        self.plan = plan
        self.recorder = ExchangeRecorder(writer: context.writer, health: context.health)
        context.inFlight.add(1, ordering: .relaxed)
    }

    func recordBegin(requestBody: [UInt8], complete: Bool) async {
        await recorder.begin(ExchangeBegin(
            exchangeID: 0, startedAt: Clock.unixMicros(), method: method, target: target,
            endpoint: context.config.endpoint, requestHeaders: HeaderPolicy.masked(plan.headers),
            requestBody: requestBody, requestBodyComplete: complete, clientRequestID: plan.clientRequestID,
            flags: chat.beginFlags, meta: plan.meta + chat.beginMeta))
    }

    func received(head: UpstreamHead, at nanos: UInt64) {
        self.head = head
        known = head.known()
        recorder.keepsPreview = head.status >= 400   // the block shows the body of an upstream error only
        headAt = nanos
        tap = StreamTap(contentType: known.contentType)
        notesArrivals = tap.isSSE
        if plan.clientAcceptsGzip, let enc = known.contentEncoding?.lowercased() {
            if enc == "gzip" || enc == "x-gzip" || enc == "deflate" { gunzip = GzipDecoder() }
            else if enc != "identity" { warnings.append("response body recorded as received (\(enc)-encoded)") }
        }
        if chat.isChat, tap.isSSE, (200..<300).contains(head.status) {
            tap.keepWholeMerge = chat.forcedStream
            // Cutting needs the client's bytes to be the decoded bytes (the handler asked curl to decode).
            if let settings = context.config.repeatDetection, gunzip == nil, !curlPassesEncoded() {
                tap.repeatWatch = RepeatWatch(settings: settings)
            }
        }
    }

    private func curlPassesEncoded() -> Bool {
        plan.clientAcceptsGzip && known.contentEncoding.map { $0.lowercased() != "identity" } == true
    }

    /// Force-stream conversion: the client did not ask for a stream, the upstream answered with one.
    var convertsToJSON: Bool {
        chat.forcedStream && tap.isSSE && head.map { (200..<300).contains($0.status) } == true
    }

    /// Whether the repeat detector watches this stream (the handler then forwards only what `observeCutting` returns).
    var watchesRepeat: Bool { tap.repeatWatch != nil }

    /// Whether the repeat detector tripped.
    var repeatTripped: Bool { tap.cutAt != nil }

    /// Like `observe`, for a watched stream: returns the part of `bytes` the client may still get (all of it until
    /// the detector trips, then up to the end of the tripping event), and records exactly that part.
    func observeCutting(_ bytes: ByteBuffer) async -> ByteBuffer {
        let before = tap.fedBytes
        let now = Clock.nanos()
        tap.feed(bytes.readableBytesView, now: now)
        var keep = bytes.readableBytes
        if let cut = tap.cutAt { keep = max(0, min(keep, cut - before)) }
        let part = bytes.getSlice(at: bytes.readerIndex, length: keep) ?? ByteBuffer()
        await recorder.responseBody(part.readableBytesView, arrivedAt: arrival(now))
        return part
    }

    /// µs since the request was sent (the zero of the timings), for a stream's read that arrived at `nanos`.
    private func arrival(_ nanos: UInt64) -> Int64? {
        guard notesArrivals else { return nil }
        let zero = sentAt == 0 ? arrivedAt : sentAt
        return nanos > zero ? Int64((nanos - zero) / 1000) : 0
    }

    /// After a trip: the final `repeat` chunks and `[DONE]`, recorded; the caller sends them and stops upstream.
    func repeatTail() async -> ByteBuffer {
        let tail = tap.repeatTail()
        await recorder.responseBody(tail, arrivedAt: arrival(Clock.nanos()))
        return ByteBuffer(bytes: tail)
    }

    /// Force-stream conversion: the merged `chat.completion` as the client's JSON body (nil if nothing merged).
    func convertedBody() -> ByteBuffer? {
        guard let bytes = tap.mergedCompletion() else { return nil }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(bytes.count + 1)
        buffer.writeBytes(bytes)
        buffer.writeInteger(UInt8(0x0A))
        return buffer
    }

    /// Response bytes on their way to the client: decoded for the record and the tap.
    func observe(_ bytes: ByteBuffer) async {
        let now = Clock.nanos()
        if let gunzip {
            let decoded = gunzip.decode(bytes.readableBytesView)
            tap.feed(decoded, now: now)
            await recorder.responseBody(decoded, arrivedAt: arrival(now))
        } else {
            tap.feed(bytes.readableBytesView, now: now)
            await recorder.responseBody(bytes.readableBytesView, arrivedAt: arrival(now))
        }
    }

    /// The upstream response ended normally.
    func finish() async {
        guard !ended else { return }
        ended = true
        tap.finish(now: Clock.nanos())
        await complete(failure: nil)
    }

    /// The exchange failed at `error`'s step; returns the client's error response (when one can still be sent).
    func fail(_ error: any Error) async -> Response {
        let failure = (error as? UpstreamFailure) ?? UpstreamFailure(step: .connect, message: "\(error)")
        // A client that leaves right after the stream's `[DONE]` (the OpenAI SDKs close then, often before the
        // upstream's end of body has reached the proxy) received the whole answer: the normal end, not a failure.
        if failure.step == .clientDisconnected && tap.sawDone {
            await finish()
            return ProxyErrorResponse.response(failure)
        }
        if !ended {
            ended = true
            tap.finish(now: Clock.nanos())
            await complete(failure: failure)
        }
        return ProxyErrorResponse.response(failure)
    }

    private func complete(failure: UpstreamFailure?) async {
        let now = Clock.nanos()
        let zero = sentAt == 0 ? arrivedAt : sentAt
        let facts = tap.facts
        var timings = ExchangeTimings()
        if headAt > 0 { timings.ttfb = Int64(headAt &- zero) / 1000 }
        if let first = tap.firstOutputNanos { timings.ttft = Int64(first &- zero) / 1000 }
        timings.total = Int64(now &- zero) / 1000
        timings.serverTimingMs = known.serverTiming.flatMap { ServerTiming.durationMs($0) }
        if let usage = facts?.usage, let total = timings.total {
            let ttft = timings.ttft ?? 0
            let tokens = usage.completionTokens - (ttft > 0 ? 1 : 0)
            let perToken = Double(total - ttft) / 1000 / Double(tokens)
            if perToken > 0 && perToken.isFinite {
                timings.tpotMs = perToken
                timings.outputTokensPerSecond = 1000 / perToken
            }
        }
        var flags: ExchangeFlags = chat.beginFlags
        if tap.isSSE { flags.insert(.stream) }
        if gunzip != nil { flags.insert(.gzipResponse) }
        if let reasons = facts?.finishReasons, reasons.contains("length") {
            flags.insert(.truncated)
            warnings.append(TruncationWarning.text(completionTokens: facts?.usage?.completionTokens, choices: reasons.count))
        }
        if let watch = tap.repeatWatch, let trip = watch.trip {
            flags.insert(.repeatCut)
            warnings.append(RepeatWatch.warning(trip, settings: watch.settings))
        }
        if let cacheID = known.contextCacheID, !cacheID.isEmpty { flags.insert(.cacheUsed) }
        warnings += chat.notes
        if let e = gunzip?.error { warnings.append("response body could not be decoded for the record: \(e)") }
        if let e = tap.streamError { warnings.append("error event inside the stream: \(e)") }
        if tap.mergeDropped { warnings.append("stream too large to merge into one chat.completion (the raw stream is recorded)") }

        await recorder.end(ExchangeEnd(
            exchangeID: 0, endedAt: Clock.unixMicros(), status: head?.status ?? 0,
            responseHeaders: head?.headers ?? [], responseBody: [], responseBodyOffset: 0,
            requestBodyLength: 0, responseBodyLength: 0, timings: timings,
            requestID: known.requestID, chatcmplID: facts?.id,
            uid: known.uid, gid: known.gid, model: facts?.model, usage: facts?.usage,
            finishReasons: facts?.finishReasons ?? [], flags: flags, warnings: warnings,
            failure: failure.map { ExchangeFailure(step: $0.step.rawValue, message: $0.message) },
            mergedCompletion: tap.mergedCompletion()))
        context.inFlight.subtract(1, ordering: .relaxed)
        printBlock(timings: timings, facts: facts, failure: failure)
    }

    private func printBlock(timings: ExchangeTimings, facts: CompletionSummary?, failure: UpstreamFailure?) {
        var block = LogBlock()
        block.method = method
        block.target = target
        block.status = head?.status ?? 0
        block.reason = head.map { $0.reason.isEmpty ? HTTPResponse.Status(code: $0.status).reasonPhrase : $0.reason } ?? ""
        block.latencySeconds = Double(timings.total ?? 0) / 1_000_000
        block.requestContentType = plan.contentType
        block.upstreamAcceptEncoding = plan.acceptEncodingSent
        block.clientRequestID = plan.clientRequestID
        block.responseContentType = known.contentType
        block.responseContentEncoding = curlDecoded ? nil : known.contentEncoding
        block.mshRequestID = known.requestID
        block.serverTimingMs = timings.serverTimingMs
        block.contextCacheID = known.contextCacheID
        block.uid = known.uid
        block.gid = known.gid
        block.completionID = facts?.id
        block.ttftSeconds = timings.ttft.map { Double($0) / 1_000_000 }
        block.tpotSeconds = timings.tpotMs.map { $0 / 1000 }
        block.otps = timings.outputTokensPerSecond
        block.usage = facts?.usage
        if let status = head?.status, status >= 400 {
            block.upstreamErrorBody = recorder.errorBodyPreview
        }
        block.proxyError = failure.map { "\($0.step.rawValue): \($0.message)" }
        block.warnings = warnings + recorder.warnings
        block.exchangeID = recorder.exchangeID
        // Rendered and written by a task of its own, with the other blocks of this loop tick (StderrLog.logSoon).
        let style = context.log.style
        context.log.logSoon { [block] in block.render(style: style) }
    }
}
