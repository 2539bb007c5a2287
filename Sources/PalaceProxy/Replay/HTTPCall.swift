import Hummingbird
import PalaceLog

/// A whole HTTP response: what `HTTPCall` returns.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [HeaderField]
    /// Decoded (curl negotiates and removes gzip) body.
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// One-shot HTTP calls over the proxy's own curl loop (replay, explain, control requests to a running proxy).
///
/// Invariant: the loop is stopped when the call returns; the whole response is collected in memory, so this is
/// for API-sized answers, not for relaying.
public enum HTTPCall {
    public static func send(method: String, url: String, headers: [HeaderField], body: [UInt8]?,
                            idleTimeoutSeconds: Int = 300) async -> Result<HTTPReply, UpstreamFailure> {
        let loop: CurlLoop
        do { loop = try CurlLoop() } catch { return .failure(error) }
        defer { loop.stop() }
        let transfer: UpstreamTransfer
        do {
            transfer = try loop.transfer(UpstreamRequest(
                method: method, url: url,
                headers: headers.filter { !["content-length", "host", "transfer-encoding", "connection"].contains($0.name.lowercased()) },
                bodyLength: body.map { Int64($0.count) }, decodeCompression: true, idleTimeoutSeconds: idleTimeoutSeconds))
        } catch { return .failure(error) }
        if let body {
            if !body.isEmpty { await transfer.sendBody(ByteBuffer(bytes: body)) }
            transfer.finishBody()
        }
        transfer.start()
        let head: UpstreamHead
        switch await transfer.head() {
        case .failure(let f): return .failure(f)
        case .success(let h): head = h
        }
        var bytes: [UInt8] = []
        while true {
            switch await transfer.nextBody() {
            case .bytes(let b): bytes.append(contentsOf: b.readableBytesView)
            case .end:
                return .success(HTTPReply(status: head.status,
                                          headers: head.headers.filter { $0.name.lowercased() != "content-encoding" },
                                          body: bytes))
            case .failed(let f): return .failure(f)
            }
        }
    }
}
