import Hummingbird
import NIOCore
import Synchronization

/// Tells exchanges that their client went away, even while nothing is being written to it (a non-stream call
/// waiting for its upstream answer, a stream waiting for its first token), so the upstream call is cancelled at
/// once instead of running to its end for nobody.
///
/// How: `ClientConnectionWatcher` sits in every client connection's pipeline after HTTP decoding and reports the
/// end of the client's input (`ChannelEvent.inputClosed`: the client closed its side — Hummingbird allows half
/// closure, so the channel itself stays open) or the connection's end (`channelInactive`: reset, error). Exchanges
/// find their connection's `ClientConnection` through `ClientConnection.registry` by channel identity.
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

    /// Live connections by channel identity (the watcher adds and removes them).
    static let registry = Mutex<[ObjectIdentifier: ClientConnection]>([:])

    static func of(_ channel: any Channel) -> ClientConnection? {
        let key = ObjectIdentifier(channel)
        return registry.withLock { $0[key] }
    }
}

/// The per-connection pipeline handler behind `ClientConnection` (passes every event and read through untouched).
final class ClientConnectionWatcher: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny
    let connection = ClientConnection()
    /// Where errors of the connection itself go (a client sending broken HTTP); resets and closes are not errors.
    let errorLog: ServerErrorLog?

    init(errorLog: ServerErrorLog? = nil) { self.errorLog = errorLog }

    func handlerAdded(context: ChannelHandlerContext) {
        let key = ObjectIdentifier(context.channel)
        ClientConnection.registry.withLock { $0[key] = connection }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        unregister(context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { connection.close() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let errorLog, !(error is IOError), !(error is ChannelError) {
            let peer = context.channel.remoteAddress.map { "\($0)" } ?? "unknown"
            errorLog.append(level: .error, "client \(peer): \(String(reflecting: error))")
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        unregister(context.channel)
        context.fireChannelInactive()
    }

    private func unregister(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        ClientConnection.registry.withLock { r in
            if r[key] === connection { r.removeValue(forKey: key) }
        }
        connection.close()
    }
}

/// The request context of the proxy's responder: Hummingbird's basic context plus the client's channel, so an
/// exchange can watch its connection.
public struct ProxyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Hummingbird's basic context for the same request (what a `ProxyMount` is given).
    public var basic: BasicRequestContext {
        BasicRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: logger))
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
