import Hummingbird
import NIOCore
import Synchronization

/// Tells exchanges that their client went away, even while nothing is being written to it (a non-stream call
/// waiting for its upstream answer, a stream waiting for its first token), so the upstream call is cancelled at
/// once instead of running to its end for nobody.
///
/// How: `ClientConnectionWatcher` sits first in every client connection's pipeline and reports the end of the
/// client's input (`ChannelEvent.inputClosed`: the client closed its side — half closure is allowed, so the channel
/// itself stays open) or the connection's end (`channelInactive`: reset, error). Exchanges get their connection's
/// `ClientConnection` from the handler that started them (`ConnectionIO`).
///
/// Invariant: a callback registered with `onClose` runs at most once, on the event loop or at once in `onClose`
/// when the connection had already closed; `remove` after completion guarantees it will not run later.
/// Like Go's net/http (MoonPalace), a client that half-closes after sending its request counts as gone.
final class ClientConnection: Sendable {
    private struct State {
        var closed = false
        var nextToken = 0
        var callbacks: [Int: @Sendable () -> Void] = [:]
    }
    private let state = Mutex(State())

    /// Registers `callback` for the connection's end. Returns nil (and runs nothing) when it already ended: the
    /// caller then knows its client is gone.
    func onClose(_ callback: @escaping @Sendable () -> Void) -> Int? {
        state.withLock { s -> Int? in
            if s.closed { return nil }
            s.nextToken += 1
            s.callbacks[s.nextToken] = callback
            return s.nextToken
        }
    }

    func remove(_ token: Int?) {
        guard let token else { return }
        _ = state.withLock { $0.callbacks.removeValue(forKey: token) }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    fileprivate func close() {
        let callbacks = state.withLock { s -> [@Sendable () -> Void] in
            if s.closed { return [] }
            s.closed = true
            defer { s.callbacks.removeAll() }
            return Array(s.callbacks.values)
        }
        for callback in callbacks { callback() }
    }
}

/// The pipeline handler behind `ClientConnection` (passes every event and read through untouched).
final class ClientConnectionWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let connection: ClientConnection

    init(connection: ClientConnection) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { connection.close() }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        connection.close()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.close()
        context.fireChannelInactive()
    }
}

/// Runs an exchange's task on its client connection's event loop: wherever a wait resumes from (the curl loop
/// thread, the log writer's thread), the exchange continues on the thread that owns the client socket, so the
/// response is written without another hop. One executor per event loop, made on first use.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    private init(loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }

    private static let executors = Mutex<[ObjectIdentifier: EventLoopTaskExecutor]>([:])

    static func of(_ loop: any EventLoop) -> EventLoopTaskExecutor {
        let key = ObjectIdentifier(loop)
        return executors.withLock { all in
            if let known = all[key] { return known }
            let made = EventLoopTaskExecutor(loop: loop)
            all[key] = made
            return made
        }
    }
}
