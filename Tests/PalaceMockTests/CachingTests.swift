import HTTPTypes
import Hummingbird
import PalaceWire
import Testing

@testable import PalaceMock

@Suite struct CachingTests {
    static let system = "{\"role\":\"system\",\"content\":\"You are Kimi. 月之暗面 long system prompt.\"}"

    func createCache(_ client: MockClient, extra: String = "") async throws -> JSONValue {
        let body = ByteBuffer(string: "{\"model\":\"moonshot-v1\",\"messages\":[\(Self.system)],\"ttl\":60\(extra)}")
        let response = try await client.execute(uri: "/v1/caching", method: .post, body: body)
        #expect(response.status == .ok)
        return try JSONValue.parse(String(buffer: response.body))
    }

    @Test func createGetListDelete() async throws {
        try await withMock { client in
            let cache = try await createCache(client)
            let id = try #require(cache["id"]?.stringValue)
            #expect(id.hasPrefix("cache-"))
            #expect(cache["status"]?.stringValue == "pending")
            #expect(cache["object"]?.stringValue == "context-cache")
            let got = try JSONValue.parse(String(buffer: try await client.execute(uri: "/v1/caching/\(id)", method: .get).body))
            #expect(got["status"]?.stringValue == "ready")
            let list = try JSONValue.parse(String(buffer: try await client.execute(uri: "/v1/caching", method: .get).body))
            #expect(list["data"]?[0]?["id"]?.stringValue == id)
            let deleted = try await client.execute(uri: "/v1/caching/\(id)", method: .delete)
            #expect(String(buffer: deleted.body).contains("context_cache_object.deleted"))
            #expect(try await client.execute(uri: "/v1/caching/\(id)", method: .get).status == .notFound)
        }
    }

    @Test func roleCacheMessageSubstitutesAndReportsCachedTokens() async throws {
        try await withMock { client in
            let cache = try await createCache(client)
            let id = cache["id"]!.stringValue!
            let tokens = cache["tokens"]!.intValue!
            let body = ByteBuffer(string: "{\"model\":\"moonshot-v1-8k\",\"messages\":[{\"role\":\"cache\",\"content\":\"cache_id=\(id);reset_ttl=30\"},{\"role\":\"user\",\"content\":\"hi\"}]}")
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, body: body)
            #expect(response.status == .ok)
            #expect(response.headers[HTTPField.Name("Msh-Context-Cache-Id")!] == id)
            let json = try JSONValue.parse(String(buffer: response.body))
            #expect(json["usage"]?["cached_tokens"]?.intValue == tokens)
            #expect(json["usage"]?["prompt_tokens_details"]?["cached_tokens"]?.intValue == tokens)
            #expect((json["usage"]?["prompt_tokens"]?.intValue ?? 0) > tokens)
        }
    }

    @Test func headerFormNeedsTheCachedPrefix() async throws {
        try await withMock { client in
            let id = try await createCache(client)["id"]!.stringValue!
            let cacheHeaders = headers([("X-Msh-Context-Cache", id), ("X-Msh-Context-Cache-Reset-TTL", "60")])
            let matching = ByteBuffer(string: "{\"model\":\"moonshot-v1-8k\",\"messages\":[\(Self.system),{\"role\":\"user\",\"content\":\"hi\"}]}")
            let used = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: cacheHeaders, body: matching)
            #expect(used.headers[HTTPField.Name("Msh-Context-Cache-Id")!] == id)
            let unrelated = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: cacheHeaders, body: chatBody())
            #expect(unrelated.status == .ok)
            #expect(unrelated.headers[HTTPField.Name("Msh-Context-Cache-Id")!] == nil)
        }
    }

    @Test func unknownAndExpiredCachesAreErrors() async throws {
        try await withMock { client in
            let unknown = ByteBuffer(string: "{\"model\":\"moonshot-v1-8k\",\"messages\":[{\"role\":\"cache\",\"content\":\"cache_id=cache-nope\"},{\"role\":\"user\",\"content\":\"hi\"}]}")
            let missing = try await client.execute(uri: "/v1/chat/completions", method: .post, body: unknown)
            #expect(missing.status == .notFound)
            #expect(String(buffer: missing.body).contains("resource_not_found_error"))
        }
    }

    @Test func expiredCacheIsAnErrorUnlessItsTTLIsReset() throws {
        let store = CacheStore(readyDelayMs: 0)
        let now = WallClock.nowSeconds()
        store.insert(CacheEntry(
            id: "cache-old", model: "moonshot-v1", messages: [], tools: nil, name: nil, description: nil,
            metadata: JSONObject(), tokens: 10, createdAt: now - 100, expiredAt: now - 10, readyAtMs: 0))
        var plain = try ChatRequest.parse(ByteBuffer(string: "{\"model\":\"moonshot-v1-8k\",\"messages\":[{\"role\":\"cache\",\"content\":\"cache_id=cache-old\"},{\"role\":\"user\",\"content\":\"hi\"}]}"))
        do {
            _ = try store.apply(to: &plain, headers: HTTPFields())
            Issue.record("an inactive cache must be refused")
        } catch {
            #expect(error.status == .badRequest)
            #expect(error.message.contains("inactive"))
        }
        var revived = try ChatRequest.parse(ByteBuffer(string: "{\"model\":\"moonshot-v1-8k\",\"messages\":[{\"role\":\"cache\",\"content\":\"cache_id=cache-old;reset_ttl=60\"},{\"role\":\"user\",\"content\":\"hi\"}]}"))
        let use = try store.apply(to: &revived, headers: HTTPFields())
        #expect(use.cachedTokens == 10)
        #expect((store.entry("cache-old")?.expiredAt ?? 0) >= now + 59)
    }

    @Test func tagsResolveInRoleCacheMessages() async throws {
        try await withMock { client in
            let id = try await createCache(client)["id"]!.stringValue!
            let tag = try await client.execute(
                uri: "/v1/caching/refs/tags", method: .post, body: ByteBuffer(string: "{\"tag\":\"my-tag.v1\",\"cache_id\":\"\(id)\"}"))
            #expect(String(buffer: tag.body).contains("cache_object.tag"))
            let body = ByteBuffer(string: "{\"model\":\"moonshot-v1-8k\",\"messages\":[{\"role\":\"cache\",\"content\":\"tag=my-tag.v1\"},{\"role\":\"user\",\"content\":\"hi\"}]}")
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, body: body)
            #expect(response.headers[HTTPField.Name("Msh-Context-Cache-Id")!] == id)
            let content = try await client.execute(uri: "/v1/caching/refs/tags/my-tag.v1/content", method: .get)
            #expect(String(buffer: content.body).contains(id))
        }
    }
}
