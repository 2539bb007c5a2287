import HTTPTypes
import Hummingbird
import PalaceLog

/// Which headers cross the proxy, in each direction.
///
/// Request: every client header except hop-by-hop ones (RFC 9110 §7.6.1, plus any named in `Connection`), `Host`
/// and `Content-Length` (curl sets both from the upstream URL and the body), and `Accept-Encoding` when the client
/// does not accept gzip (curl then negotiates and decodes, so the client still gets identity bytes).
/// `--key` replaces `Authorization`. Response: every upstream header except hop-by-hop ones; `Content-Length` is set
/// by the server from the body actually sent; `Content-Encoding` is dropped when curl decoded the body.
enum HeaderPolicy {
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// `hopByHop.contains(name)` for a lower-case name, without hashing it (this runs for every header, both ways).
    static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: return name == "te"
        case 7: return name == "trailer" || name == "upgrade"
        case 10: return name == "connection" || name == "keep-alive"
        case 16: return name == "proxy-connection"
        case 17: return name == "transfer-encoding"
        case 18: return name == "proxy-authenticate"
        case 19: return name == "proxy-authorization"
        default: return false
        }
    }

    struct RequestPlan {
        var headers: [HeaderField] = []
        /// The client accepts gzip: pass Accept-Encoding and the encoded body through.
        var clientAcceptsGzip = false
        /// nil = no body; -1 = unknown length (chunked).
        var bodyLength: Int64?
        var clientRequestID: String?
        var contentType: String?
        var acceptEncodingSent: String?
        /// Begin-record meta (a replay's link, see `ControlChannel`).
        var meta: [HeaderField] = []
    }

    static func request(method: String, fields: HTTPFields, key: String?) -> RequestPlan {
        var plan = RequestPlan()
        var connectionTokens: Set<String> = []
        var chunked = false
        for field in fields where field.name.canonicalName == "connection" {
            for token in field.value.split(separator: ",") { connectionTokens.insert(token.trimmingSpaces().lowercased()) }
        }
        for field in fields {
            let name = field.name.canonicalName
            switch name {
            case "content-length": plan.bodyLength = Int64(trimmingSpace(field.value))
            case "transfer-encoding": chunked = chunked || field.value.lowercased().contains("chunked")
            case "host", "expect": continue
            case "accept-encoding": plan.clientAcceptsGzip = plan.clientAcceptsGzip || acceptsGzip(field.value)
            case "x-request-id": plan.clientRequestID = field.value
            case "content-type": plan.contentType = field.value.split(separator: ";").first.map { String($0.trimmingSpaces()) }
            default: break
            }
            if name == "content-length" || isHopByHop(name) || (!connectionTokens.isEmpty && connectionTokens.contains(name)) {
                continue
            }
            if name == "authorization" && key != nil { continue }
            plan.headers.append(HeaderField(name: field.name.rawName, value: field.value))
        }
        if !plan.clientAcceptsGzip { plan.headers.removeAll { UpstreamHead.equalsLowercased($0.name, "accept-encoding") } }
        else { plan.acceptEncodingSent = plan.headers.first { UpstreamHead.equalsLowercased($0.name, "accept-encoding") }?.value }
        if let key { plan.headers.append(HeaderField(name: "Authorization", value: "Bearer \(key)")) }
        if chunked && plan.bodyLength == nil { plan.bodyLength = -1 }
        if plan.bodyLength == nil && (method == "POST" || method == "PUT" || method == "PATCH") && !fields.contains(.contentLength) {
            plan.bodyLength = -1
        }
        return plan
    }

    /// `value` without leading and trailing spaces (only U+0020, as `trimmingCharacters(in: " ")`).
    private static func trimmingSpace(_ value: String) -> Substring {
        var s = value[...]
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }

    /// `gzip` listed with a non-zero quality (`gzip`, `gzip;q=0.8`; not `gzip;q=0`).
    static func acceptsGzip(_ value: String) -> Bool {
        for item in value.split(separator: ",") {
            let parts = item.split(separator: ";")
            guard let coding = parts.first?.trimmingSpaces().lowercased(), coding == "gzip" || coding == "x-gzip" else { continue }
            let q = parts.dropFirst().first { $0.trimmingSpaces().lowercased().hasPrefix("q=") }
            if let q, let v = Double(q.trimmingSpaces().dropFirst(2)), v == 0 { continue }
            return true
        }
        return false
    }

    /// Headers as recorded in the begin record: forwarded ones with Authorization masked.
    static func masked(_ headers: [HeaderField]) -> [HeaderField] {
        headers.map { h in
            UpstreamHead.equalsLowercased(h.name, "authorization") || UpstreamHead.equalsLowercased(h.name, "x-api-key")
                ? HeaderField(name: h.name, value: SecretMask.mask(h.value)) : h
        }
    }

    static func response(_ headers: [HeaderField], dropEncoding: Bool, keepLength: Bool) -> HTTPFields {
        var fields = HTTPFields()
        var connectionTokens: Set<String> = []
        for h in headers where UpstreamHead.equalsLowercased(h.name, "connection") {
            for token in h.value.split(separator: ",") { connectionTokens.insert(token.trimmingSpaces().lowercased()) }
        }
        fields.reserveCapacity(headers.count)
        for h in headers {
            guard let name = HTTPField.Name(h.name) else { continue }
            let n = name.canonicalName   // lower case
            if isHopByHop(n) || (!connectionTokens.isEmpty && connectionTokens.contains(n)) { continue }
            if n == "content-length" && !keepLength { continue }
            if n == "content-encoding" && dropEncoding { continue }
            if n == "date" { continue }   // the server sets its own
            fields.append(HTTPField(name: name, value: h.value))
        }
        return fields
    }
}
