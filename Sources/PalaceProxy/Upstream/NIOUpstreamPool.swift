import NIOCore
import NIOHTTP1
import NIOPosix

/// The NIO upstream client's state on one event loop: kept-alive connections per `host:port`, the calls running,
/// and a sweeper (once a second while there is anything) for idle timeouts and old idle connections.
///
/// Invariant: used on `eventLoop` only (hence `@unchecked Sendable`); the calls of an exchange whose client
/// connection lives on this loop come here, so a call, its connection and the client connection share one thread.
final class NIOUpstreamLoopPool: @unchecked Sendable {
    /// An idle connection is closed after this long unused (curl's default maximum connection age, 118 s).
    static let maxIdleNanos: UInt64 = 118 * 1_000_000_000
    /// At most this many idle connections are kept per `host:port` on one loop.
    static let maxIdlePerKey = 64

    let eventLoop: any EventLoop
    private var idle: [String: [NIOUpstreamConnection]] = [:]
    private var idleCount = 0
    private var active: [ObjectIdentifier: NIOUpstreamCall] = [:]
    private var sweeper: Scheduled<Void>?
    private(set) var stopped = false

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    // MARK: calls

    func register(_ call: NIOUpstreamCall) {
        active[ObjectIdentifier(call)] = call
        ensureSweeper()
    }

    func unregister(_ call: NIOUpstreamCall) {
        active.removeValue(forKey: ObjectIdentifier(call))
    }

    // MARK: connections

    /// The most recently parked live connection for `key`, if any.
    func takeIdle(_ key: String) -> NIOUpstreamConnection? {
        while let conn = idle[key]?.popLast() {
            idleCount -= 1
            if conn.isUsable { return conn }
        }
        return nil
    }

    /// A new connection to `target` (connect timeout `timeoutSeconds`).
    func connect(_ target: NIOUpstreamTarget, timeoutSeconds: Int) -> EventLoopFuture<NIOUpstreamConnection> {
        let conn = NIOUpstreamConnection(key: target.key, pool: self)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(Int64(max(1, timeoutSeconds))))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    var encoder = HTTPRequestEncoder.Configuration()
                    encoder.automaticallySetFramingHeaders = false   // the call sets them, as curl does
                    try sync.addHandler(HTTPRequestEncoder(configuration: encoder))
                    // Not NIOHTTP1's decoder: one body part per read, not per chunk (see there).
                    try sync.addHandler(UpstreamResponseDecoder())
                    try sync.addHandler(conn)
                }
            }
        let connected: EventLoopFuture<any Channel>
        if let address = try? SocketAddress(ipAddress: target.host, port: target.port) {
            connected = bootstrap.connect(to: address)
        } else {
            connected = bootstrap.connect(host: target.host, port: target.port)
        }
        return connected.map { _ in conn }
    }

    /// A connection whose response ended cleanly goes back for the next call (or is closed when the pool is full
    /// or shutting down).
    func park(_ conn: NIOUpstreamConnection) {
        guard !stopped, conn.isUsable, (idle[conn.key]?.count ?? 0) < Self.maxIdlePerKey else { conn.close(); return }
        conn.idleSince = Clock.nanos()
        idle[conn.key, default: []].append(conn)
        idleCount += 1
        ensureSweeper()
    }

    /// A parked connection closed (by the server) or misbehaved: forget it.
    func forget(_ conn: NIOUpstreamConnection) {
        guard var list = idle[conn.key], let i = list.firstIndex(where: { $0 === conn }) else { return }
        list.remove(at: i)
        idle[conn.key] = list
        idleCount -= 1
    }

    // MARK: sweeping and shutdown

    private func ensureSweeper() {
        guard sweeper == nil, !stopped else { return }
        sweeper = eventLoop.scheduleTask(in: .seconds(1)) { [self] in
            sweeper = nil
            sweep()
            if !active.isEmpty || idleCount > 0 { ensureSweeper() }
        }
    }

    private func sweep() {
        let now = Clock.nanos()
        for call in Array(active.values) { call.checkIdle(now: now) }
        for (key, list) in idle {
            let keep = list.filter { conn in
                if now &- conn.idleSince < Self.maxIdleNanos && conn.isUsable { return true }
                conn.close()
                return false
            }
            idleCount -= list.count - keep.count
            idle[key] = keep.isEmpty ? nil : keep
        }
    }

    func shutdown() {
        stopped = true
        sweeper?.cancel()
        sweeper = nil
        for call in Array(active.values) {
            call.fail(UpstreamFailure(step: .readResponseBody, message: "proxy shutting down"))
        }
        active.removeAll()
        for list in idle.values { for conn in list { conn.close() } }
        idle.removeAll()
        idleCount = 0
    }
}

/// One upstream TCP connection's handler (last in its pipeline, after NIOHTTP1's request encoder and response
/// decoder): hands the response parts to the call it carries, holds the socket's reads while that call has too
/// much unread (backpressure), and reports the connection's end.
final class NIOUpstreamConnection: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    let key: String
    private unowned let pool: NIOUpstreamLoopPool
    private var context: ChannelHandlerContext?
    /// The call this connection carries (nil while parked).
    var call: NIOUpstreamCall?
    /// A read was held back for the call's reader.
    private var readHeld = false
    /// Any response byte arrived for the current call.
    private(set) var receivedForCall = false
    /// Calls carried before the current one (a reused connection may have been closed by the server meanwhile).
    private(set) var uses = 0
    var idleSince: UInt64 = 0
    private var closed = false

    init(key: String, pool: NIOUpstreamLoopPool) {
        self.key = key
        self.pool = pool
    }

    var isUsable: Bool { !closed && (context?.channel.isActive ?? false) }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    /// Starts carrying `call`.
    func attach(_ call: NIOUpstreamCall) {
        self.call = call
        receivedForCall = false
    }

    /// The call is done with this connection: back to the pool when `reusable`, else closed.
    func release(reusable: Bool) {
        call = nil
        uses += 1
        if readHeld, let context {
            readHeld = false
            context.read()
        }
        if reusable { pool.park(self) } else { close() }
    }

    func write(_ part: HTTPClientRequestPart) {
        context?.write(wrapOutboundOut(part), promise: nil)
    }

    func flush() { context?.flush() }

    /// The call's reader drained below the limit: reads go on.
    func resumeReading() {
        guard readHeld, let context else { return }
        readHeld = false
        context.read()
    }

    func close() {
        guard !closed else { return }
        closed = true
        context?.close(promise: nil)
    }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receivedForCall = true
        guard let call else {
            // Bytes on a parked connection: nothing can make sense of them, the connection is done.
            pool.forget(self)
            close()
            return
        }
        call.received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        call?.notifyWaiters()
    }

    func read(context: ChannelHandlerContext) {
        if let call, call.holdsRead { readHeld = true; return }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { call?.writable() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let call = self.call
        self.call = nil
        closed = true
        context.close(promise: nil)
        call?.connectionFailed(self, error: error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        pool.forget(self)
        let call = self.call
        self.call = nil
        call?.connectionFailed(self, error: nil)
        context.fireChannelInactive()
    }
}
