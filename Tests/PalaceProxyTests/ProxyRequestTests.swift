import HTTPTypes
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Testing
@testable import PalaceProxy

@Suite struct ProxyRequestTests {
    /// The handler's request conversion is NIOHTTPTypesHTTP1's, minus its `URLComponents` parse of origin-form targets.
    @Test(arguments: ["/v1/chat/completions", "/v1/files?purpose=file-extract&x=%20y", "//double/slash", "/", "/a b",
                      "/v1/caches/cache-1/refs?x", "*", "http://example.com/v1/models?x=1", "example.com:443", "v1/models"])
    func sameAsTheLibraryConversion(uri: String) {
        for method in [HTTPMethod.POST, .GET, .HEAD, .RAW(value: "FOO"), .CONNECT] {
            let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders([
                ("host", "127.0.0.1:9988"), ("Content-Type", "application/json"), ("Cookie", "a=1"), ("cookie", "b=2"),
                ("X-Request-Id", "abc"), ("Host", "second"),
            ]))
            let expected = try? HTTPRequest(head, secure: false, splitCookie: false)
            #expect(ProxyHTTPHandler.request(head) == expected, "\(method) \(uri)")
        }
        let noHost = HTTPRequestHead(version: .http1_0, method: .GET, uri: uri, headers: HTTPHeaders())
        #expect(ProxyHTTPHandler.request(noHost) == (try? HTTPRequest(noHost, secure: false, splitCookie: false)))
    }
}
