import Testing
@testable import PalaceProxy

@Suite struct ProxyConfigurationTests {
    @Test func namedEndpointsResolve() {
        #expect(ProxyConfiguration.normalizeEndpoint("cn") == "https://api.moonshot.cn")
        #expect(ProxyConfiguration.normalizeEndpoint("global") == "https://api.moonshot.ai")
        #expect(ProxyConfiguration.normalizeEndpoint("GLOBAL") == "https://api.moonshot.ai")
    }

    @Test func urlWithoutSchemeGetsHTTPSIncludingHostPort() {
        #expect(ProxyConfiguration.normalizeEndpoint("api.moonshot.ai") == "https://api.moonshot.ai")
        #expect(ProxyConfiguration.normalizeEndpoint("gateway.local:8443") == "https://gateway.local:8443")
        #expect(ProxyConfiguration.normalizeEndpoint("http://127.0.0.1:9989") == "http://127.0.0.1:9989")
    }

    @Test func trailingSlashAndV1NeverDoubleThePath() {
        for raw in ["https://x.test", "https://x.test/", "https://x.test/v1", "https://x.test/v1/", "x.test/v1//"] {
            #expect(ProxyConfiguration.normalizeEndpoint(raw) + "/v1/chat/completions" == "https://x.test/v1/chat/completions")
        }
        #expect(ProxyConfiguration.normalizeEndpoint("https://gw.test/openai/v1") == "https://gw.test/openai")
    }

    @Test func emptyKeyMeansNoKey() {
        let c = ProxyConfiguration(endpoint: "cn", key: "", logDirectory: "/tmp/x")
        #expect(c.key == nil)
    }
}
