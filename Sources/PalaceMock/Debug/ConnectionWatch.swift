import NIOCore
import Synchronization

/// Learns when the caller closes a connection the mock has not answered yet (`/_mock/hold`): a handler put at the
/// front of that connection's pipeline for the hold's duration reports the peer's FIN (`inputClosed`: the server
/// allows half-closure, so the channel itself stays open), a reset (`errorCaught`) or the channel's end.
final class ConnectionWatch: Sendable {
    enum Outcome: Sendable {
        case closed(how: String, heldMs: Int)
        case released(heldMs: Int)

        var heldMs: Int {
            switch self {
            case .closed(_, let ms), .released(let ms): ms
            }
        }
    }

    private let channel: any Channel
    private let promise: EventLoopPromise<String?>
    private let settled = Atomic<Bool>(false)
    private let started = ContinuousClock.now
    private let name: String
    private static let counter = Atomic<Int>(0)

    private init(channel: any Channel) {
        self.channel = channel
        promise = channel.eventLoop.makePromise(of: String?.self)
        name = "mock-connection-watch-\(Self.counter.add(1, ordering: .relaxed).newValue)"
    }

    /// Settles the watch once: `how` = how the connection ended, nil = the hold's time ran out.
    fileprivate func settle(_ how: String?) {
        if !settled.exchange(true, ordering: .acquiringAndReleasing) { promise.succeed(how) }
    }

    static func install(on channel: any Channel) async throws -> ConnectionWatch {
        let watch = ConnectionWatch(channel: channel)
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(CloseWatchHandler(watch: watch), name: watch.name, position: .first)
        }.get()
        channel.closeFuture.whenComplete { _ in watch.settle("closed") }
        return watch
    }

    /// Waits until the connection ends or `milliseconds` pass.
    func wait(milliseconds: Int) async -> Outcome {
        let timer = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(milliseconds))) { self.settle(nil) }
        let how = (try? await promise.futureResult.get()) ?? nil
        timer.cancel()
        let elapsed = ContinuousClock.now - started
        let ms = Int(elapsed.components.seconds) * 1000 + Int(elapsed.components.attoseconds / 1_000_000_000_000_000)
        if let how { return .closed(how: how, heldMs: ms) }
        return .released(heldMs: ms)
    }

    /// Takes the handler out of the pipeline (a kept-alive connection may be held again).
    func remove() async {
        _ = try? await channel.pipeline.removeHandler(name: name).get()
    }
}

private final class CloseWatchHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let watch: ConnectionWatch

    init(watch: ConnectionWatch) { self.watch = watch }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { watch.settle("input closed (FIN)") }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        watch.settle("error: \(error)")
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        watch.settle("closed")
        context.fireChannelInactive()
    }
}
