import NIOCore
import NIOPosix
import PalaceLog
import Synchronization
import Testing
@testable import PalaceProxy

/// The NIO upstream client against a scripted HTTP server on 127.0.0.1 (real sockets): what the mock cannot do on
/// cue — close a kept-alive connection just as the next request arrives.
@Suite struct NIOUpstreamTests {
    @Test func endpointParsing() throws {
        let t = try #require(NIOUpstreamTarget(endpoint: "http://127.0.0.1:8080/base"))
        #expect(t.prefix == "http://127.0.0.1:8080" && t.host == "127.0.0.1" && t.port == 8080)
        #expect(t.hostHeader == "127.0.0.1:8080" && t.key == "127.0.0.1:8080")
        let d = try #require(NIOUpstreamTarget(endpoint: "http://example.com"))
        #expect(d.port == 80 && d.hostHeader == "example.com")
        let v6 = try #require(NIOUpstreamTarget(endpoint: "http://[::1]:9000"))
        #expect(v6.host == "::1" && v6.hostHeader == "[::1]:9000")
        #expect(NIOUpstreamTarget(endpoint: "https://api.moonshot.cn") == nil)
        #expect(NIOUpstreamTarget(endpoint: "http://user:pw@host") == nil)
        #expect(NIOUpstreamTarget(endpoint: "http://host:99999") == nil)
    }

    @Test func proxyVariablesAsCurlReadsThem() {
        #expect(!UpstreamClient.proxyApplies(host: "127.0.0.1", environment: [:]))
        #expect(UpstreamClient.proxyApplies(host: "127.0.0.1", environment: ["http_proxy": "http://p:3128"]))
        #expect(UpstreamClient.proxyApplies(host: "a.example", environment: ["ALL_PROXY": "socks5://p"]))
        #expect(!UpstreamClient.proxyApplies(host: "127.0.0.1", environment: ["http_proxy": ""]))
        #expect(!UpstreamClient.proxyApplies(host: "api.example.com",
                                            environment: ["http_proxy": "p", "NO_PROXY": "localhost, .example.com"]))
        #expect(!UpstreamClient.proxyApplies(host: "x", environment: ["HTTP_PROXY": "p", "no_proxy": "*"]))
        #expect(UpstreamClient.proxyApplies(host: "notexample.com", environment: ["http_proxy": "p", "NO_PROXY": "example.com"]))
    }

    @Test func unknownModeIsRefused() throws {
        #expect(try UpstreamClient.mode(environment: [:]) == .auto)
        #expect(try UpstreamClient.mode(environment: ["MOONPALACE_UPSTREAM_CLIENT": " NIO "]) == .nio)
        #expect(throws: UpstreamClientSettingError.self) { try UpstreamClient.mode(environment: ["MOONPALACE_UPSTREAM_CLIENT": "x"]) }
    }

    @Test func reusedConnectionClosedByTheServerIsRetriedOnce() async throws {
        let server = try await ScriptedServer.start()
        defer { server.stop() }
        let client = UpstreamClient(endpoint: "http://127.0.0.1:\(server.port)", mode: .nio, environment: [:],
                                    curl: try CurlLoop())
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        for i in 0..<3 {
            let call = try client.call(UpstreamRequest(method: "GET", url: "http://127.0.0.1:\(server.port)/r\(i)",
                                                       headers: [], bodyLength: nil, decodeCompression: false,
                                                       idleTimeoutSeconds: 10), on: loop)
            #expect(call is NIOUpstreamCall)
            call.start()
            let head = try await call.head().get()
            #expect(head.status == 200)
            var body = ByteBuffer()
            reading: while true {
                switch await call.nextBody() {
                case .bytes(var b): body.writeBuffer(&b)
                case .end: break reading
                case .failed(let f): Issue.record("request \(i) failed: \(f)"); break reading
                }
            }
            #expect(String(buffer: body) == "/r\(i)")
        }
        // Connection 1 answered /r0 and was closed by the server when /r1 arrived: /r1 went again on connection 2,
        // which then carried /r2 too.
        #expect(server.log() == ["1 /r0", "1 /r1 closed", "2 /r1", "2 /r2"])
        await client.stop()
    }

    @Test func answerWithoutAnyByteFailsWithTheStep() async throws {
        let server = try await ScriptedServer.start(closeFirst: true)
        defer { server.stop() }
        let client = UpstreamClient(endpoint: "http://127.0.0.1:\(server.port)", mode: .nio, environment: [:],
                                    curl: try CurlLoop())
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let call = try client.call(UpstreamRequest(method: "GET", url: "http://127.0.0.1:\(server.port)/x",
                                                   headers: [], bodyLength: nil, decodeCompression: false,
                                                   idleTimeoutSeconds: 10), on: loop)
        call.start()
        switch await call.head() {
        case .success: Issue.record("expected a failure")
        case .failure(let f):
            // A fresh connection is not retried: the failure is the upstream's.
            #expect(f.step == .readResponseHead && f.message.contains("Empty reply from server"))
        }
        #expect(server.log() == ["1 /x closed"])
        await client.stop()
    }
}

/// A tiny HTTP/1.1 server for GET requests without bodies. Connection 1 answers its first request and closes when
/// its second arrives (`closeFirst`: closes at its first); every other request is answered with its path as body.
final class ScriptedServer: Sendable {
    let channel: any Channel
    let port: Int
    private let state: Handler.State

    private init(channel: any Channel, state: Handler.State) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
        self.state = state
    }

    func log() -> [String] { state.events.withLock { $0 } }
    func stop() { channel.close(promise: nil) }

    static func start(closeFirst: Bool = false) async throws -> ScriptedServer {
        let state = Handler.State(closeFirst: closeFirst)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Handler(state: state)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ScriptedServer(channel: channel, state: state)
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        final class State: Sendable {
            let closeFirst: Bool
            let connections = Atomic<Int>(0)
            let events = Mutex<[String]>([])
            init(closeFirst: Bool) { self.closeFirst = closeFirst }
        }
        let state: State
        var number = 0
        var served = 0
        var pending = ""

        init(state: State) { self.state = state }

        func channelActive(context: ChannelHandlerContext) {
            number = state.connections.add(1, ordering: .relaxed).newValue
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            pending += String(buffer: unwrapInboundIn(data))
            while let end = pending.range(of: "\r\n\r\n") {
                let head = String(pending[..<end.lowerBound])
                pending = String(pending[end.upperBound...])
                let path = head.split(separator: " ").dropFirst().first.map(String.init) ?? "?"
                if number == 1 && (state.closeFirst ? served == 0 : served == 1) {
                    state.events.withLock { $0.append("\(number) \(path) closed") }
                    context.close(promise: nil)
                    return
                }
                served += 1
                state.events.withLock { $0.append("\(number) \(path)") }
                let answer = "HTTP/1.1 200 OK\r\nContent-Length: \(path.utf8.count)\r\n\r\n\(path)"
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer)), promise: nil)
            }
        }

        typealias OutboundOut = ByteBuffer
    }
}
