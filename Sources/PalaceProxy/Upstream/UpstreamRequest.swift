import Hummingbird
import PalaceLog

/// What to send upstream. The body is not here: it streams through `UpstreamTransfer.sendBody(_:)`.
public struct UpstreamRequest: Sendable {
    public var method: String
    /// Absolute URL (endpoint base + the client's path and query exactly as received).
    public var url: String
    /// Headers to send as-is (hop-by-hop headers, Host and Content-Length already removed).
    public var headers: [HeaderField]
    /// nil = no body; -1 = body of unknown length (sent chunked); otherwise the exact length.
    public var bodyLength: Int64?
    /// true: let curl negotiate and decode compression (the client did not ask for gzip); false: pass
    /// Accept-Encoding and the encoded body through untouched.
    public var decodeCompression: Bool
    /// Abort when no byte moves for this many seconds (connect included). No cap on the total duration.
    public var idleTimeoutSeconds: Int

    public init(method: String, url: String, headers: [HeaderField], bodyLength: Int64?,
                decodeCompression: Bool, idleTimeoutSeconds: Int) {
        self.method = method
        self.url = url
        self.headers = headers
        self.bodyLength = bodyLength
        self.decodeCompression = decodeCompression
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }
}

/// The upstream response head: final status (1xx skipped) and headers in arrival order.
public struct UpstreamHead: Sendable {
    public var status: Int
    public var reason: String
    public var headers: [HeaderField]

    /// The first value of the header `name` (given in lower case; compared ASCII case-insensitively, no allocation).
    public func header(_ name: String) -> String? {
        headers.first { Self.equalsLowercased($0.name, name) }?.value
    }

    static func equalsLowercased(_ field: String, _ lower: String) -> Bool {
        var a = field.utf8.makeIterator()
        var b = lower.utf8.makeIterator()
        while true {
            switch (a.next(), b.next()) {
            case (nil, nil): return true
            case (let x?, let y?):
                let folded = (x >= 0x41 && x <= 0x5A) ? x | 0x20 : x
                if folded != y { return false }
            default: return false
            }
        }
    }
}

/// One step of the response body stream.
public enum UpstreamBodyEvent: Sendable {
    case bytes(ByteBuffer)
    case end
    case failed(UpstreamFailure)
}
