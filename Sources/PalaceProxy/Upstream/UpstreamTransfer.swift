import CCurlShim
import Hummingbird
import PalaceLog
import Synchronization

/// One upstream HTTP call driven by `CurlLoop`.
///
/// Two sides share it: curl's callbacks on the loop thread (producer of the response, consumer of the request body)
/// and the exchange's task (consumer of the response, producer of the request body). Everything they share lives in
/// `state` behind a `Mutex`; the easy handle is touched by the loop thread only once the transfer is added.
///
/// Wake-ups: curl's callbacks only store what arrived; the loop resumes the exchange's waiters once per pass over
/// `curl_multi_perform` (`notifyWaiters`), so a small answer whose head, body and end arrive together wakes the
/// exchange once, not three times (every wake-up is a thread hop on the request's critical path).
///
/// Backpressure, both ways: above `highWater` unread response bytes the write callback pauses the transfer and the
/// reader unpauses it as it drains; the request body producer waits while more than `highWater` bytes are unsent.
/// So memory per exchange stays around 2 × `highWater` whatever the body sizes and client speeds.
public final class UpstreamTransfer: Sendable {
    static let highWater = 1 << 20

    // Raw curl resources: set up before the handle reaches the loop, then used only on the loop thread, freed in deinit
    // (after the loop removed the handle from the multi).
    nonisolated(unsafe) let easy: UnsafeMutableRawPointer
    nonisolated(unsafe) var headerList: UnsafeMutablePointer<curl_slist>?
    nonisolated(unsafe) let errorBuffer: UnsafeMutablePointer<CChar>
    /// The whole request body when it was known before `start()` (curl's POSTFIELDS; must outlive the transfer).
    nonisolated(unsafe) var wholeBody: UnsafeMutableRawPointer?
    let url: String
    unowned let loop: CurlLoop
    /// Where the easy handle goes back when the transfer is released (held strongly: it may outlive the loop).
    let pool: CurlEasyPool

    struct State {
        // Response head, assembled from header lines.
        var status = 0
        var reason = ""
        var headerLines: [HeaderField] = []
        var head: UpstreamHead?
        var headAtNanos: UInt64 = 0
        var headWaiter: CheckedContinuation<Result<UpstreamHead, UpstreamFailure>, Never>?
        // Response body, produced by the write callback.
        var chunks: [ByteBuffer] = []
        var buffered = 0
        var recvPaused = false
        var bodyWaiter: CheckedContinuation<UpstreamBodyEvent, Never>?
        // Request body, consumed by the read callback.
        var upload = ByteBuffer()
        var uploadFinished = false
        var uploadAborted = false
        var uploadDone = false
        var sendPaused = false
        var uploadWaiter: CheckedContinuation<Void, Never>?
        // The loop has this transfer on its list of waiters to resume after the current pass.
        var notifyQueued = false
        // Outcome.
        var finished = false
        var failure: UpstreamFailure?
    }
    let state = Mutex(State())

    init(request: UpstreamRequest, loop: CurlLoop) throws(UpstreamFailure) {
        guard let easy = loop.easyPool.take() else {
            throw UpstreamFailure(step: .connect, message: "curl_easy_init failed (out of memory?)")
        }
        self.easy = easy
        self.url = request.url
        self.loop = loop
        self.pool = loop.easyPool
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        try configure(request)
    }

    deinit {
        pool.give(easy)
        if let headerList { curl_slist_free_all(headerList) }
        errorBuffer.deallocate()
        wholeBody?.deallocate()
    }

    // MARK: the exchange's side

    /// Starts the transfer on the loop.
    public func start() { loop.add(self) }

    /// Sets the complete request body before `start()` (instead of `sendBody` + `finishBody`): curl then sends it
    /// with the request head in one write, without read callbacks. Only for a body of declared length.
    public func setWholeBody(_ bytes: ByteBuffer) {
        let count = bytes.readableBytes
        let copy = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 1)
        bytes.withUnsafeReadableBytes { src in
            if let base = src.baseAddress, count > 0 { copy.copyMemory(from: base, byteCount: count) }
        }
        wholeBody = copy
        _ = ccurl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(count))
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_POSTFIELDS, copy)
        state.withLock { $0.uploadFinished = true; $0.uploadDone = true }
    }

    /// Waits for the final response head (1xx responses are skipped).
    public func head() async -> Result<UpstreamHead, UpstreamFailure> {
        await withCheckedContinuation { c in
            state.withLock { s in
                if let head = s.head { c.resume(returning: .success(head)) }
                else if let failure = s.failure { c.resume(returning: .failure(failure)) }
                else if s.finished {
                    c.resume(returning: .failure(UpstreamFailure(step: .readResponseHead, message: "upstream closed without a response")))
                } else { s.headWaiter = c }
            }
        }
    }

    /// Monotonic time the response head completed (0 before).
    public var headAtNanos: UInt64 { state.withLock { $0.headAtNanos } }

    /// Next piece of the response body: everything buffered so far in one buffer, then `.end` or `.failed`.
    public func nextBody() async -> UpstreamBodyEvent {
        var unpause = false
        let event: UpstreamBodyEvent = await withCheckedContinuation { c in
            state.withLock { s in
                if !s.chunks.isEmpty {
                    c.resume(returning: .bytes(Self.drain(&s)))
                    unpause = s.recvPaused
                    s.recvPaused = false
                } else if let failure = s.failure { c.resume(returning: .failed(failure)) }
                else if s.finished { c.resume(returning: .end) }
                else { s.bodyWaiter = c }
            }
        }
        if unpause { loop.unpause(self) }
        return event
    }

    /// Queues request body bytes; waits while more than `highWater` bytes are still unsent.
    public func sendBody(_ bytes: ByteBuffer) async {
        var unpause = false
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            state.withLock { s in
                // A finished transfer (upstream failed or answered early) no longer wants the body: drop it.
                if s.finished { c.resume(); return }
                var bytes = bytes
                s.upload.writeBuffer(&bytes)
                if s.sendPaused { s.sendPaused = false; unpause = true }
                if s.upload.readableBytes > Self.highWater && !s.finished { s.uploadWaiter = c } else { c.resume() }
            }
            if unpause { loop.unpause(self) }
        }
    }

    /// The request body is complete.
    public func finishBody() {
        let unpause = state.withLock { s in
            s.uploadFinished = true
            defer { s.sendPaused = false }
            return s.sendPaused
        }
        if unpause { loop.unpause(self) }
    }

    /// The client's request body failed: the upload is aborted, the transfer ends with `failure`.
    public func abortBody(_ failure: UpstreamFailure) {
        state.withLock { s in
            s.uploadAborted = true
            if s.failure == nil { s.failure = failure }
        }
        loop.cancel(self, failure: failure)
    }

    /// Stops the transfer (client gone); waiters resume with `failure`.
    public func cancel(_ failure: UpstreamFailure) { loop.cancel(self, failure: failure) }

    // MARK: the loop's side

    /// Called by the loop when curl finished the transfer (or it was cancelled). Resumes every waiter.
    func complete(code: CURLcode, cancelledWith: UpstreamFailure? = nil) {
        let message = String(cString: errorBuffer)
        var wake = Wake()
        state.withLock { s in
            if s.finished { return }   // a late cancel after curl already finished
            s.finished = true
            if s.failure == nil {
                if let cancelledWith { s.failure = cancelledWith }
                else if code != CURLE_OK {
                    s.failure = .from(code: code, errorBuffer: message, url: url,
                                      headReceived: s.head != nil, uploadDone: s.uploadDone || s.upload.readableBytes == 0)
                }
            }
            if let w = s.headWaiter {
                s.headWaiter = nil
                wake.head = (w, s.head.map { .success($0) } ?? .failure(s.failure ?? UpstreamFailure(
                    step: .readResponseHead, message: "upstream closed without a response (upstream \(url))")))
            }
            if let w = s.bodyWaiter {
                s.bodyWaiter = nil
                // Bytes not yet handed over come first; the end (or failure) is the reader's next call.
                wake.body = (w, !s.chunks.isEmpty ? .bytes(Self.drain(&s)) : s.failure.map { .failed($0) } ?? .end)
            }
            if let w = s.uploadWaiter { s.uploadWaiter = nil; wake.upload = w }
        }
        wake.resume()
    }

    /// Resumes the waiters for what the callbacks stored during the last `curl_multi_perform` (loop thread).
    /// Returns true when the receive side was paused and has just been drained (the loop unpauses it).
    func notifyWaiters() -> Bool {
        var wake = Wake()
        let unpause = state.withLock { s -> Bool in
            s.notifyQueued = false
            if let head = s.head, let w = s.headWaiter { s.headWaiter = nil; wake.head = (w, .success(head)) }
            guard !s.chunks.isEmpty, let w = s.bodyWaiter else { return false }
            s.bodyWaiter = nil
            wake.body = (w, .bytes(Self.drain(&s)))
            defer { s.recvPaused = false }
            return s.recvPaused
        }
        wake.resume()
        return unpause
    }

    /// Waiters to resume once `state` is unlocked: a task resumed under the lock would often run at once on
    /// another core and block on that same lock (a futex sleep and wake-up for nothing).
    private struct Wake {
        var head: (CheckedContinuation<Result<UpstreamHead, UpstreamFailure>, Never>, Result<UpstreamHead, UpstreamFailure>)?
        var body: (CheckedContinuation<UpstreamBodyEvent, Never>, UpstreamBodyEvent)?
        var upload: CheckedContinuation<Void, Never>?

        func resume() {
            if let (w, value) = head { w.resume(returning: value) }
            if let (w, value) = body { w.resume(returning: value) }
            upload?.resume()
        }
    }

    static func drain(_ s: inout State) -> ByteBuffer {
        s.buffered = 0
        if s.chunks.count == 1 { return s.chunks.removeLast() }
        var all = s.chunks[0]
        for i in 1..<s.chunks.count { var c = s.chunks[i]; all.writeBuffer(&c) }
        s.chunks.removeAll(keepingCapacity: true)
        return all
    }
}
