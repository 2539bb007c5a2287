import CCurlShim
import Foundation
import Synchronization

/// Drives every upstream transfer on one thread with a libcurl multi handle.
///
/// Invariants: the multi handle and every added easy handle are used by the loop thread only (curl handles are not
/// thread-safe); other threads talk to the loop through `inbox`. Connections are kept alive and reused across
/// exchanges (curl's connection cache).
///
/// Driving: libcurl's multi_socket interface (CCurlShim's `ccurl_sockloop`): curl tells which sockets to watch and
/// when its timer is due; the loop waits in `epoll_wait` and hands each ready socket to `curl_multi_socket_action`.
/// Only the transfers with something to do are serviced (`curl_multi_perform` polled every transfer on every pass).
/// Adding or unpausing a transfer sets curl's timer to 0, so the next pass runs the timeout action for it.
///
/// Wake-ups: a command wakes the loop (an eventfd write, in the same epoll set) only when the loop is asleep
/// in that wait or about to be (`Inbox.sleeping`, set under the inbox lock after seeing no command); a loop that is
/// busy finds the command on its next pass. Under load most commands then cost no syscall and no context switch.
///
/// Easy handles are reused (`curl_easy_reset` keeps nothing of the previous request but what the multi handle owns:
/// connections, DNS): allocating and freeing one per exchange cost more than resetting it.
public final class CurlLoop: Sendable {
    enum Command {
        case add(UpstreamTransfer)
        case unpause(UpstreamTransfer)
        case cancel(UpstreamTransfer, UpstreamFailure)
        case stop
    }

    nonisolated(unsafe) private let multi: UnsafeMutableRawPointer
    /// Transfers whose callbacks stored something during the current pass of curl calls (loop thread only).
    nonisolated(unsafe) var touched: [UpstreamTransfer] = []
    private struct Inbox {
        var commands: [Command] = []
        /// The loop is in (or about to enter) `curl_multi_poll` with no command left: the next command must wake it.
        var sleeping = false
    }
    private let inbox = Mutex(Inbox())
    private let stopped = Mutex(false)
    /// The eventfd the loop's epoll set watches beside curl's sockets.
    private let wakeFD: Int32
    /// The epoll set and curl's timer (loop thread only, after init).
    nonisolated(unsafe) private let sockets: OpaquePointer
    /// Reset easy handles for the next transfers.
    let easyPool = CurlEasyPool()

    /// Creates the multi handle and starts the loop thread.
    public init() throws(UpstreamFailure) {
        // libcurl is loaded on first use (CCurlShim/loader.c): a missing library fails here, with how to install it.
        if let problem = ccurl_load() { throw UpstreamFailure(step: .connect, message: String(cString: problem)) }
        curl_global_init(Int(CURL_GLOBAL_ALL))
        guard let multi = curl_multi_init() else {
            throw UpstreamFailure(step: .connect, message: "curl_multi_init failed")
        }
        self.multi = multi
        let wakeFD = ccurl_wake_new()
        guard wakeFD >= 0 else {
            curl_multi_cleanup(multi)
            throw UpstreamFailure(step: .connect, message: "cannot create the curl loop's eventfd: \(String(cString: strerror(errno)))")
        }
        guard let sockets = ccurl_sockloop_new(multi, wakeFD) else {
            let why = String(cString: strerror(errno))
            curl_multi_cleanup(multi)
            close(wakeFD)
            throw UpstreamFailure(step: .connect, message: "cannot set up the curl loop's epoll set: \(why)")
        }
        self.wakeFD = wakeFD
        self.sockets = sockets
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 1024)
        let thread = Thread { [self] in self.run() }
        thread.name = "moonpalace-curl"
        thread.start()
    }

    deinit {
        // After the loop thread ended (it holds the loop): nothing can signal the eventfd now.
        close(wakeFD)
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
        let wake = inbox.withLock { s -> Bool in
            s.commands.append(c)
            defer { s.sleeping = false }
            return s.sleeping
        }
        if wake { wakeUp() }
    }

    private func wakeUp() {
        ccurl_wake_signal(wakeFD)
    }

    private func run() {
        ccurl_name_thread("moonpalace-curl")
        var active: [UnsafeMutableRawPointer: UpstreamTransfer] = [:]
        var pending: [Command] = []
        loop: while true {
            inbox.withLock { swap(&$0.commands, &pending) }
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
            // Adding or unpausing a transfer set curl's timer to 0: run it now (sockets are served in the wait).
            ccurl_sockloop_run_due(sockets)
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
            // Sleep only with no command waiting (one that came during this pass is handled at once, no poll).
            let idle = inbox.withLock { s -> Bool in
                s.sleeping = s.commands.isEmpty
                return s.sleeping
            }
            // Commands keep coming: serve the sockets that are ready without sleeping, so none waits for a lull.
            guard idle else { ccurl_sockloop_wait(sockets, 0); continue }
            ccurl_sockloop_wait(sockets, 1000)
            inbox.withLock { $0.sleeping = false }
        }
        curl_multi_cleanup(multi)
        ccurl_sockloop_free(sockets)
    }
}

/// Easy handles of finished transfers, reset and kept for the next ones: allocating and freeing a handle per
/// exchange cost more than resetting it (`curl_easy_reset` keeps nothing of the previous request; connections and
/// DNS live in the multi handle). Thread-safe; a handle is in the pool only while no transfer and no multi has it.
final class CurlEasyPool: Sendable {
    /// Handle addresses (raw pointers are not Sendable).
    private let spare = Mutex<[UInt]>([])
    static let limit = 256

    /// A reset handle, or a new one (nil: out of memory).
    func take() -> UnsafeMutableRawPointer? {
        spare.withLock { $0.popLast() }.flatMap { UnsafeMutableRawPointer(bitPattern: $0) } ?? curl_easy_init()
    }

    /// Takes back the handle of a transfer that is over (removed from the multi handle, or never added).
    func give(_ easy: UnsafeMutableRawPointer) {
        curl_easy_reset(easy)
        let kept = spare.withLock { s -> Bool in
            guard s.count < Self.limit else { return false }
            s.append(UInt(bitPattern: easy))
            return true
        }
        if !kept { curl_easy_cleanup(easy) }
    }

    deinit {
        for address in spare.withLock({ $0 }) {
            if let easy = UnsafeMutableRawPointer(bitPattern: address) { curl_easy_cleanup(easy) }
        }
    }
}
