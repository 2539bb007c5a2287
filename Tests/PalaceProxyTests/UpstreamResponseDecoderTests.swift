import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import PalaceProxy

/// `UpstreamResponseDecoder` against NIOHTTP1's `HTTPResponseDecoder` (the decoder it replaces) on the same bytes,
/// cut at every position: the same heads, the same body bytes, the same ends, and errors where NIOHTTP1 has them.
@Suite struct UpstreamResponseDecoderTests {
    /// What a decoder made of a conversation: heads, body bytes and ends in order; whether it failed.
    struct Outcome: Equatable, CustomStringConvertible {
        var events: [String] = []
        var failed = false
        var description: String { events.joined(separator: " | ") + (failed ? " | FAILED" : "") }
    }

    static func run(nio: Bool, methods: [HTTPMethod], pieces: [[UInt8]], eof: Bool = true) throws -> Outcome {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTPRequestEncoder())
        if nio {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPResponseDecoder(
                leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop)))
        } else {
            try channel.pipeline.syncOperations.addHandler(UpstreamResponseDecoder())
        }
        for method in methods {
            try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: "/")))
            try channel.writeOutbound(HTTPClientRequestPart.end(nil))
        }
        var outcome = Outcome()
        var body: [UInt8] = []
        func drain() throws {
            while let part = try channel.readInbound(as: HTTPClientResponsePart.self) {
                switch part {
                case .head(let h):
                    let fields = h.headers.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
                    // Keep-alive as NIOHTTP1 reports it for framed answers (for a body that ends with the connection
                    // llhttp says "close"; either way such a connection is not reused: it is closed).
                    let framed = h.headers.contains(name: "content-length") || h.headers["transfer-encoding"].contains { $0.contains("chunked") }
                    outcome.events.append("head \(h.version) \(h.status.code) '\(h.status.reasonPhrase)' [\(fields)]"
                                          + (framed ? " keepAlive=\(h.isKeepAlive)" : ""))
                case .body(let b):
                    body += b.readableBytesView
                case .end:
                    outcome.events.append("body \(String(decoding: body, as: UTF8.self))")
                    outcome.events.append("end")
                    body = []
                }
            }
        }
        do {
            for piece in pieces {
                try channel.writeInbound(ByteBuffer(bytes: piece))
                try drain()
            }
            if eof {
                channel.pipeline.fireChannelInactive()
                try drain()
                try channel.throwIfErrorCaught()
            }
        } catch {
            try? drain()
            outcome.failed = true
        }
        if !body.isEmpty { outcome.events.append("partial body \(String(decoding: body, as: UTF8.self))") }
        _ = try? channel.finish(acceptAlreadyClosed: true)
        return outcome
    }

    /// Both decoders on `text` whole, cut in two at every position, and byte by byte.
    static func expectSame(_ text: String, methods: [HTTPMethod] = [.GET], eof: Bool = true,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = Array(text.utf8)
        var cuts: [[[UInt8]]] = [[bytes], bytes.map { [$0] }]
        for i in 1..<max(1, bytes.count) { cuts.append([Array(bytes[..<i]), Array(bytes[i...])]) }
        for pieces in cuts {
            let expected = try run(nio: true, methods: methods, pieces: pieces, eof: eof)
            let got = try run(nio: false, methods: methods, pieces: pieces, eof: eof)
            #expect(got == expected, "pieces \(pieces.map(\.count))", sourceLocation: sourceLocation)
            if got != expected { return }
        }
    }

    static func chunked(_ parts: [String], ext: String = "") -> String {
        parts.map { String($0.utf8.count, radix: 16) + ext + "\r\n" + $0 + "\r\n" }.joined() + "0\r\n\r\n"
    }

    static let sseHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

    @Test func chunkedStreamLikeTheMocks() throws {
        try Self.expectSame(Self.sseHead + Self.chunked(["data: {\"a\":1}\n\n", "data: {\"b\":22}\n\n", "data: [DONE]\n\n"]))
    }

    @Test func chunkExtensionsUppercaseHexAndTrailers() throws {
        try Self.expectSame(Self.sseHead + "A;name=value\r\n0123456789\r\n1B\r\n" + String(repeating: "x", count: 27)
                            + "\r\n0\r\nX-Trailer: 1\r\n\r\n")
    }

    @Test func contentLengthBodies() throws {
        try Self.expectSame("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: application/json\r\n\r\nhello")
        try Self.expectSame("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        try Self.expectSame("HTTP/1.1 200 OK\r\ncontent-length:   3  \r\n\r\nabc")
    }

    @Test func answersWithoutBody() throws {
        try Self.expectSame("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", methods: [.HEAD])
        try Self.expectSame("HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n")
        try Self.expectSame("HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n")
    }

    @Test func informationalAnswersAreDropped() throws {
        try Self.expectSame("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        try Self.expectSame("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\n!")
    }

    @Test func answersOneAfterAnotherOnAKeptAliveConnection() throws {
        try Self.expectSame("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc" + Self.sseHead + Self.chunked(["data: x\n\n"])
                            + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                            methods: [.GET, .POST, .HEAD])
    }

    @Test func bodyUntilTheConnectionCloses() throws {
        try Self.expectSame("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it\nuntil the end")
        try Self.expectSame("HTTP/1.0 200 OK\r\n\r\nold style")
        try Self.expectSame("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nnot chunked")
    }

    @Test func statusLinesHeadersAndKeepAlive() throws {
        try Self.expectSame("HTTP/1.1 599 Very Custom Reason\r\nContent-Length: 0\r\n\r\n")
        try Self.expectSame("HTTP/1.1 429 Slow Down Please\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n")
        try Self.expectSame("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nk")
        try Self.expectSame("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nk")
        try Self.expectSame("HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Tab:\tv\t\r\nSet-Cookie: a=b; Path=/\r\nSet-Cookie: c=d\r\nContent-Length: 0\r\n\r\n")
        try Self.expectSame("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + Self.chunked(["zz"]))
    }

    @Test func brokenAnswersFailAsWithNIOHTTP1() throws {
        try Self.expectSame(Self.sseHead + "zz\r\nabc\r\n0\r\n\r\n")                         // bad chunk size
        try Self.expectSame(Self.sseHead + "3\r\nabcXY0\r\n\r\n")                            // no CRLF after the data
        try Self.expectSame(Self.sseHead + String(decoding: Self.chunked(["data: 1\n\n"]).utf8.dropLast(7), as: UTF8.self))   // closed mid-stream
        try Self.expectSame("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")              // closed mid-body
        try Self.expectSame("HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n")    // space in a name
        try Self.expectSame("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n")                  // bad length
        try Self.expectSame("HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")                   // version
        try Self.expectSame("HTTP/1.1 200 OK\r\nContent-Length: 3")                            // closed in the head
        try Self.expectSame("garbage\r\n\r\n")
    }

    @Test func oneBodyPartPerReadWhateverTheChunks() throws {
        let channel = EmbeddedChannel(handler: UpstreamResponseDecoder())
        try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/")))
        let events = (0..<50).map { "data: {\"n\":\($0)}\n\n" }
        try channel.writeInbound(ByteBuffer(string: Self.sseHead + String(decoding: Self.chunked(events).utf8.dropLast(5), as: UTF8.self)))
        var parts: [HTTPClientResponsePart] = []
        while let p = try channel.readInbound(as: HTTPClientResponsePart.self) { parts.append(p) }
        #expect(parts.count == 2)   // the head, then all 50 events in one body part
        guard case .body(let b)? = parts.last else { Issue.record("no body"); return }
        #expect(String(buffer: b) == events.joined())
        try channel.writeInbound(ByteBuffer(string: "0\r\n\r\n"))
        guard case .end? = try channel.readInbound(as: HTTPClientResponsePart.self) else { Issue.record("no end"); return }
        _ = try channel.finish(acceptAlreadyClosed: true)
    }

    @Test func bareLineFeedsAreTakenAsCurlDoes() throws {
        let channel = EmbeddedChannel(handler: UpstreamResponseDecoder())
        try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/")))
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\nContent-Length: 2\n\nok"))
        guard case .head(let h)? = try channel.readInbound(as: HTTPClientResponsePart.self) else { Issue.record("no head"); return }
        #expect(h.status == .ok && h.headers["content-length"] == ["2"])
        guard case .body(let b)? = try channel.readInbound(as: HTTPClientResponsePart.self) else { Issue.record("no body"); return }
        #expect(String(buffer: b) == "ok")
        _ = try channel.finish(acceptAlreadyClosed: true)
    }
}
