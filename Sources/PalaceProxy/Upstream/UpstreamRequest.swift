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

    /// The first values of the headers an exchange reads (for its record, its log block and its relay), found in
    /// one pass; each is what `header(_:)` returns for that name.
    struct Known {
        var contentType: String?
        var contentEncoding: String?
        var contentLength: String?
        var requestID: String?
        var uid: String?
        var gid: String?
        var contextCacheID: String?
        var serverTiming: String?
    }

    func known() -> Known {
        var k = Known()
        for h in headers {
            switch h.name.utf8.count {
            case 7:
                if k.uid == nil, Self.equalsLowercased(h.name, "msh-uid") { k.uid = h.value }
                else if k.gid == nil, Self.equalsLowercased(h.name, "msh-gid") { k.gid = h.value }
            case 12:
                if k.contentType == nil, Self.equalsLowercased(h.name, "content-type") { k.contentType = h.value }
            case 13:
                if k.serverTiming == nil, Self.equalsLowercased(h.name, "server-timing") { k.serverTiming = h.value }
            case 14:
                if k.contentLength == nil, Self.equalsLowercased(h.name, "content-length") { k.contentLength = h.value }
                else if k.requestID == nil, Self.equalsLowercased(h.name, "msh-request-id") { k.requestID = h.value }
            case 16:
                if k.contentEncoding == nil, Self.equalsLowercased(h.name, "content-encoding") { k.contentEncoding = h.value }
            case 20:
                if k.contextCacheID == nil, Self.equalsLowercased(h.name, "msh-context-cache-id") { k.contextCacheID = h.value }
            default: break
            }
        }
        return k
    }

    static func equalsLowercased(_ field: String, _ lower: String) -> Bool {
        // Lengths first (O(1) for native strings): most names differ in length, and no iterator is built then.
        var field = field
        var lower = lower
        guard field.utf8.count == lower.utf8.count else { return false }
        return field.withUTF8 { a in lower.withUTF8 { b in equalsLowercased(a, b) } }
    }

    /// Whether ASCII bytes `a`, case folded, equal the lower-case bytes `lower` (header names are ASCII tokens).
    static func equalsLowercased(_ a: UnsafeBufferPointer<UInt8>, _ lower: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == lower.count else { return false }
        for i in 0..<a.count {
            let x = a[i]
            if ((x >= 0x41 && x <= 0x5A) ? x | 0x20 : x) != lower[i] { return false }
        }
        return true
    }
}

/// One step of the response body stream.
public enum UpstreamBodyEvent: Sendable {
    case bytes(ByteBuffer)
    case end
    case failed(UpstreamFailure)
}
