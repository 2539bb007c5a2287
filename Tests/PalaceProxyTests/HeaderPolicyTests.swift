import HTTPTypes
import PalaceLog
import Testing
@testable import PalaceProxy

@Suite struct HeaderPolicyTests {
    func fields(_ pairs: [(String, String)]) -> HTTPFields {
        var f = HTTPFields()
        for (n, v) in pairs { f.append(HTTPField(name: HTTPField.Name(n)!, value: v)) }
        return f
    }

    @Test func upstreamHeaderLookupIgnoresCaseWithoutMatchingPrefixes() {
        let head = UpstreamHead(status: 200, reason: "OK", headers: [
            HeaderField(name: "Content-Type", value: "text/event-stream"), HeaderField(name: "MSH-REQUEST-ID", value: "r1"),
            HeaderField(name: "X-Long-Name", value: "a"), HeaderField(name: "x-long-name", value: "b"),
        ])
        #expect(head.header("content-type") == "text/event-stream")
        #expect(head.header("msh-request-id") == "r1")
        #expect(head.header("x-long-name") == "a")   // the first of repeated fields
        #expect(head.header("x-long") == nil)
        #expect(head.header("x-long-name-2") == nil)
        #expect(head.header("content_type") == nil)
        #expect(!UpstreamHead.equalsLowercased("[", "{"))   // '[' | 0x20 == '{': only letters are folded
    }

    @Test func knownHeadersAreWhatHeaderLookupFinds() {
        let head = UpstreamHead(status: 200, reason: "OK", headers: [
            HeaderField(name: "Content-Type", value: "application/json"), HeaderField(name: "MSH-UID", value: "u1"),
            HeaderField(name: "msh-uid", value: "u2"), HeaderField(name: "Msh-Gid", value: "g"),
            HeaderField(name: "Content-Length", value: "12"), HeaderField(name: "Msh-Request-Id", value: "r"),
            HeaderField(name: "Server-Timing", value: "inner; dur=3"), HeaderField(name: "X-Other", value: "x"),
            HeaderField(name: "Msh-Context-Cache-Id", value: "cache-1"), HeaderField(name: "Content-Encoding", value: "gzip"),
        ])
        let k = head.known()
        #expect(k.contentType == head.header("content-type") && k.contentType == "application/json")
        #expect(k.uid == "u1" && k.gid == "g" && k.contentLength == "12" && k.requestID == "r")
        #expect(k.serverTiming == "inner; dur=3" && k.contextCacheID == "cache-1" && k.contentEncoding == "gzip")
        let none = UpstreamHead(status: 204, reason: "", headers: [HeaderField(name: "X-Msh-Uid", value: "1")]).known()
        #expect(none.uid == nil && none.contentType == nil && none.contentLength == nil)
    }

    @Test func hopByHopNamesWithoutTheSet() {
        for name in HeaderPolicy.hopByHop { #expect(HeaderPolicy.isHopByHop(name)) }
        for name in ["t", "tE", "trailers", "connections", "keep-alive ", "content-type", "proxy-authorizatio", ""] {
            #expect(!HeaderPolicy.isHopByHop(name))
        }
    }

    @Test func hopByHopAndConnectionNamedHeadersAreDropped() {
        let plan = HeaderPolicy.request(method: "POST", fields: fields([
            ("Host", "127.0.0.1:9988"), ("Connection", "keep-alive, X-Secret-Hop"), ("X-Secret-Hop", "1"),
            ("Keep-Alive", "timeout=5"), ("Content-Length", "12"), ("Content-Type", "application/json; charset=utf-8"),
            ("X-Request-Id", "req-1"), ("TE", "trailers"), ("Upgrade", "h2c"), ("X-Kept", "yes"),
        ]), key: nil)
        #expect(plan.headers.map(\.name) == ["Content-Type", "X-Request-Id", "X-Kept"])
        #expect(plan.bodyLength == 12)
        #expect(plan.clientRequestID == "req-1")
        #expect(plan.contentType == "application/json")
    }

    @Test func keyReplacesAuthorizationAndIsMaskedInTheRecord() {
        let plan = HeaderPolicy.request(method: "GET", fields: fields([("Authorization", "Bearer client")]), key: "sk-abcdefwxyz")
        #expect(plan.headers == [HeaderField(name: "Authorization", value: "Bearer sk-abcdefwxyz")])
        #expect(HeaderPolicy.masked(plan.headers)[0].value == "Bearer *********wxyz")
        #expect(plan.bodyLength == nil)
    }

    @Test func gzipIsPassedOnlyWhenTheClientAcceptsIt() {
        #expect(HeaderPolicy.acceptsGzip("gzip"))
        #expect(HeaderPolicy.acceptsGzip("br, gzip;q=0.8"))
        #expect(!HeaderPolicy.acceptsGzip("gzip;q=0"))
        #expect(!HeaderPolicy.acceptsGzip("identity"))
        let no = HeaderPolicy.request(method: "GET", fields: fields([("Accept-Encoding", "identity")]), key: nil)
        #expect(no.headers.isEmpty && !no.clientAcceptsGzip)
        let yes = HeaderPolicy.request(method: "GET", fields: fields([("Accept-Encoding", "gzip, deflate")]), key: nil)
        #expect(yes.clientAcceptsGzip && yes.acceptEncodingSent == "gzip, deflate")
    }

    @Test func chunkedOrLengthlessUploadsStreamWithUnknownLength() {
        let chunked = HeaderPolicy.request(method: "POST", fields: fields([("Transfer-Encoding", "chunked")]), key: nil)
        #expect(chunked.bodyLength == -1)
        #expect(HeaderPolicy.request(method: "PUT", fields: fields([]), key: nil).bodyLength == -1)
        #expect(HeaderPolicy.request(method: "DELETE", fields: fields([]), key: nil).bodyLength == nil)
    }

    @Test func responseDropsHopByHopAndDecodedEncoding() {
        let upstream = [HeaderField(name: "Content-Encoding", value: "gzip"), HeaderField(name: "Content-Length", value: "10"),
                        HeaderField(name: "Transfer-Encoding", value: "chunked"), HeaderField(name: "Msh-Request-Id", value: "r1")]
        let decoded = HeaderPolicy.response(upstream, dropEncoding: true, keepLength: false)
        #expect(decoded.map(\.name.canonicalName) == ["msh-request-id"])
        let passed = HeaderPolicy.response(upstream, dropEncoding: false, keepLength: true)
        #expect(passed.map(\.name.canonicalName) == ["content-encoding", "content-length", "msh-request-id"])
    }
}
