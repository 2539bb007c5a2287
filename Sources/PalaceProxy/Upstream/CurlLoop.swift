import CCurlShim
import Foundation
import Synchronization

/// Drives every upstream transfer on one thread with a libcurl multi handle.
///
/// Invariants: the multi handle and every added easy handle are used by the loop thread only (curl handles are not
/// thread-safe); other threads talk to the loop through `commands` and `curl_multi_wakeup`, which curl documents as
/// callable from any thread. Connections are kept alive and reused across exchanges (curl's connection cache).
public final class CurlLoop: Sendable {
    enum Command {
        case add(UpstreamTransfer)
        case unpause(UpstreamTransfer)
        case cancel(UpstreamTransfer, UpstreamFailure)
        case stop
    }

    nonisolated(unsafe) private let multi: UnsafeMutableRawPointer
    /// Transfers whose callbacks stored something during the current `curl_multi_perform` (loop thread only).
    nonisolated(unsafe) var touched: [UpstreamTransfer] = []
    private let commands = Mutex<[Command]>([])
    private let stopped = Mutex(false)

    /// Creates the multi handle and starts the loop thread.
    public init() throws(UpstreamFailure) {
        // libcurl is loaded on first use (CCurlShim/loader.c): a missing library fails here, with how to install it.
        if let problem = ccurl_load() { throw UpstreamFailure(step: .connect, message: String(cString: problem)) }
        curl_global_init(Int(CURL_GLOBAL_ALL))
        guard let multi = curl_multi_init() else {
            throw UpstreamFailure(step: .connect, message: "curl_multi_init failed")
        }
        self.multi = multi
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 1024)
        let thread = Thread { [self] in self.run() }
        thread.name = "moonpalace-curl"
        thread.start()
    }

    /// Creates a transfer for `request` (not started: feed the body and call `start()`).
    public func transfer(_ request: UpstreamRequest) throws(UpstreamFailure) -> UpstreamTransfer {
        try UpstreamTransfer(request: request, loop: self)
    }

    func add(_ t: UpstreamTransfer) { enqueue(.add(t)) }
    func unpause(_ t: UpstreamTransfer) { enqueue(.unpause(t)) }
    func cancel(_ t: UpstreamTransfer, failure: UpstreamFailure) { enqueue(.cancel(t, failure)) }

    /// Ends the loop: transfers still running are failed. Idempotent.
    public func stop() {
        let already = stopped.withLock { s in defer { s = true }; return s }
        if !already { enqueue(.stop) }
    }

    private func enqueue(_ c: Command) {
        commands.withLock { $0.append(c) }
        curl_multi_wakeup(multi)
    }

    private func run() {
        var active: [UnsafeMutableRawPointer: UpstreamTransfer] = [:]
        var running: Int32 = 0
        var pending: [Command] = []
        loop: while true {
            commands.withLock { swap(&$0, &pending) }
            for command in pending {
                switch command {
                case .add(let t):
                    if curl_multi_add_handle(multi, t.easy) == CURLM_OK {
                        active[t.easy] = t
                    } else {
                        t.complete(code: CURLE_FAILED_INIT)
                    }
                case .unpause(let t):
                    if active[t.easy] != nil { curl_easy_pause(t.easy, ccurl_pause_cont()) }
                case .cancel(let t, let failure):
                    if active.removeValue(forKey: t.easy) != nil { curl_multi_remove_handle(multi, t.easy) }
                    t.complete(code: CURLE_ABORTED_BY_CALLBACK, cancelledWith: failure)
                case .stop:
                    for (easy, t) in active {
                        curl_multi_remove_handle(multi, easy)
                        t.complete(code: CURLE_ABORTED_BY_CALLBACK,
                                   cancelledWith: UpstreamFailure(step: .readResponseBody, message: "proxy shutting down"))
                    }
                    active.removeAll()
                    break loop
                }
            }
            pending.removeAll(keepingCapacity: true)
            curl_multi_perform(multi, &running)
            // Finished transfers first, so an exchange woken for its head also finds its end (one wake-up).
            var left: Int32 = 0
            while let msg = curl_multi_info_read(multi, &left) {
                var code = CURLE_OK
                guard let easy = ccurl_msg_done(msg, &code) else { continue }
                curl_multi_remove_handle(multi, easy)
                if let t = active.removeValue(forKey: easy) { t.complete(code: code) }
            }
            // One wake-up per exchange per pass, with everything that arrived in it. Unpausing a drained transfer
            // can deliver curl's cached bytes at once (callbacks inside curl_easy_pause), hence the repeat.
            while !touched.isEmpty {
                let batch = touched
                touched.removeAll(keepingCapacity: true)
                for t in batch where t.notifyWaiters() && active[t.easy] != nil {
                    curl_easy_pause(t.easy, ccurl_pause_cont())
                }
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
        curl_multi_cleanup(multi)
    }
}
