import HTTPTypes
import Hummingbird
import PalaceWire

/// Cache tags: `POST/GET /v1/caching/refs/tags`, `GET/DELETE /v1/caching/refs/tags/{tag}`, and
/// `GET /v1/caching/refs/tags/{tag}/content` (the tagged cache object). Deleting a tag always succeeds.
struct TagRoutes: Sendable {
    let gate: Gate
    let store: CacheStore

    func register(on router: Router<MockRequestContext>) {
        router.post("/v1/caching/refs/tags") { request, _ in
            await gate.serve(request) { _ in
                let body = try ChatRequest.parseObject(try await Gate.body(of: request, limit: 1 << 20))
                guard let tag = body["tag"]?.stringValue, Self.isValid(tag) else {
                    throw APIError.invalidRequest("'tag' must be 1–128 characters: a letter, then letters, digits, '_', '-' or '.'")
                }
                guard let cacheID = body["cache_id"]?.stringValue else { throw APIError.invalidRequest("'cache_id' is required") }
                guard store.entry(cacheID) != nil else { throw CachingRoutes.unknown(cacheID) }
                let now = WallClock.nowSeconds()
                store.state.withLock { $0.tags[tag] = (cacheID, now) }
                return JSONResponse.make(Self.json(tag: tag, cacheID: cacheID, createdAt: now, owner: gate.options.uid))
            }
        }
        router.get("/v1/caching/refs/tags") { request, _ in
            await gate.serve(request) { _ in
                let query = request.uri.queryParameters
                let limit = query.get("limit").flatMap { Int($0) } ?? 20
                var tags = store.state.withLock { $0.tags.map { (tag: $0.key, cacheID: $0.value.cacheID, createdAt: $0.value.createdAt) } }
                tags.sort { ($0.createdAt, $0.tag) < ($1.createdAt, $1.tag) }
                if query.get("order") != "asc" { tags.reverse() }
                if let after = query.get("after"), let position = tags.firstIndex(where: { $0.tag == after }) {
                    tags = Array(tags[(position + 1)...])
                }
                if let before = query.get("before"), let position = tags.firstIndex(where: { $0.tag == before }) {
                    tags = Array(tags[..<position])
                }
                let items = tags.prefix(max(limit, 1)).map {
                    Self.json(tag: $0.tag, cacheID: $0.cacheID, createdAt: $0.createdAt, owner: gate.options.uid)
                }
                return JSONResponse.make(JSONResponse.list(Array(items), hasMore: tags.count > items.count))
            }
        }
        router.get("/v1/caching/refs/tags/{tag}") { request, context in
            await gate.serve(request) { _ in
                let tag = context.parameters.get("tag") ?? ""
                guard let ref = store.state.withLock({ $0.tags[tag] }) else { throw Self.unknown(tag) }
                return JSONResponse.make(Self.json(tag: tag, cacheID: ref.cacheID, createdAt: ref.createdAt, owner: gate.options.uid))
            }
        }
        router.delete("/v1/caching/refs/tags/{tag}") { request, context in
            await gate.serve(request) { _ in
                let tag = context.parameters.get("tag") ?? ""
                _ = store.state.withLock { $0.tags.removeValue(forKey: tag) }
                return JSONResponse.make(JSONResponse.object([
                    "deleted": .bool(true), "object": .string("cache_object.tag.deleted"), "tag": .string(tag),
                ]))
            }
        }
        router.get("/v1/caching/refs/tags/{tag}/content") { request, context in
            await gate.serve(request) { _ in
                let tag = context.parameters.get("tag") ?? ""
                guard let ref = store.state.withLock({ $0.tags[tag] }) else { throw Self.unknown(tag) }
                guard let entry = store.entry(ref.cacheID) else { throw CachingRoutes.unknown(ref.cacheID) }
                return JSONResponse.make(entry.json(nowMs: WallClock.nowMilliseconds()))
            }
        }
    }

    static func unknown(_ tag: String) -> APIError { .notFound("Tag \(tag) not found") }

    /// 1–128 characters: a letter first, then letters, digits, `_`, `-` or `.`.
    static func isValid(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128 else { return false }
        func isLetter(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
        return isLetter(first) && bytes.allSatisfy { isLetter($0) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 45 || $0 == 46 }
    }

    static func json(tag: String, cacheID: String, createdAt: Int, owner: String) -> JSONValue {
        JSONResponse.object([
            "cache_id": .string(cacheID), "created_at": JSONResponse.int(createdAt),
            "object": .string("cache_object.tag"), "owned_by": .string(owner), "tag": .string(tag),
        ])
    }
}
