import HTTPTypes
import Hummingbird
import PalaceWire

/// The context-caching API: `/v1/caching` (create, list, get, update, delete) and `/v1/caching/refs/tags`.
struct CachingRoutes: Sendable {
    let gate: Gate
    let state: MockState
    var store: CacheStore { state.caches }

    func register(on router: Router<MockRequestContext>) {
        router.post("/v1/caching") { request, _ in await gate.serve(request) { _ in try await create(request) } }
        router.get("/v1/caching") { request, _ in await gate.serve(request) { _ in try list(request) } }
        router.get("/v1/caching/{id}") { request, context in
            await gate.serve(request) { _ in try get(context.parameters.get("id") ?? "") }
        }
        router.put("/v1/caching/{id}") { request, context in
            await gate.serve(request) { _ in try await update(request, id: context.parameters.get("id") ?? "") }
        }
        router.delete("/v1/caching/{id}") { request, context in
            await gate.serve(request) { _ in
                let id = context.parameters.get("id") ?? ""
                guard store.remove(id) else { throw Self.unknown(id) }
                return JSONResponse.make(JSONResponse.object([
                    "deleted": .bool(true), "id": .string(id), "object": .string("context_cache_object.deleted"),
                ]))
            }
        }
        TagRoutes(gate: gate, store: store).register(on: router)
    }

    static func unknown(_ id: String) -> APIError { .notFound("Context cache \(id) not found") }

    private func create(_ request: Request) async throws -> Response {
        let body = try ChatRequest.parseObject(try await Gate.body(of: request, limit: 16 << 20))
        guard let model = body["model"]?.stringValue, !model.isEmpty else {
            throw APIError.invalidRequest("field 'model' is required (a model family such as 'moonshot-v1')")
        }
        guard case .array(let messages)? = body["messages"], !messages.isEmpty else {
            throw APIError.invalidRequest("field 'messages' is required and must be a non-empty array")
        }
        for (index, message) in messages.enumerated() {
            guard let role = message["role"]?.stringValue, ChatRequest.roles.contains(role) else {
                throw APIError.invalidRequest("messages[\(index)].role must be one of system, user, assistant, tool")
            }
            if message["partial"] != nil { throw APIError.invalidRequest("messages[\(index)]: 'partial' cannot be cached") }
        }
        let tools: JSONValue? = body["tools"].flatMap { $0.isNull ? nil : $0 }
        if let tools, case .array = tools {} else if tools != nil { throw APIError.invalidRequest("'tools' must be an array") }
        let nowMs = WallClock.nowMilliseconds()
        let now = Int(nowMs / 1000)
        var entry = CacheEntry(
            id: Identifiers.cache(), model: model, messages: messages, tools: tools,
            name: body["name"]?.stringValue, description: body["description"]?.stringValue,
            metadata: try metadata(body), tokens: TokenEstimator.estimate(messages: messages, tools: tools),
            createdAt: now, expiredAt: try expiry(body, now: now) ?? now + 3600,
            readyAtMs: nowMs + Int64(store.readyDelayMs))
        if case .array(let tags)? = body["tags"] {
            entry.tags = try tags.map { tag throws(APIError) in
                guard let text = tag.stringValue, TagRoutes.isValid(text) else {
                    throw APIError.invalidRequest("tags must be 1–128 characters: a letter, then letters, digits, '_', '-' or '.'")
                }
                return text
            }
        }
        store.insert(entry)
        var json = entry.json(nowMs: nowMs)
        if case .object(var object) = json {
            object.set("status", .string("pending"))   // creation answers before the cache is built
            json = .object(object)
        }
        return JSONResponse.make(json)
    }

    private func list(_ request: Request) throws -> Response {
        let query = request.uri.queryParameters
        let limit = query.get("limit").flatMap { Int($0) } ?? 20
        guard (1...1000).contains(limit) else { throw APIError.invalidRequest("'limit' must be between 1 and 1000") }
        var entries = store.all()
        if query.get("order") != "asc" { entries.reverse() }
        if let after = query.get("after"), let position = entries.firstIndex(where: { $0.id == after }) {
            entries = Array(entries[(position + 1)...])
        }
        if let before = query.get("before"), let position = entries.firstIndex(where: { $0.id == before }) {
            entries = Array(entries[..<position])
        }
        for (key, value) in query where key.hasPrefix("metadata[") && key.hasSuffix("]") {
            let name = String(key.dropFirst(9).dropLast())
            entries = entries.filter { $0.metadata[name]?.stringValue == String(value) }
        }
        let nowMs = WallClock.nowMilliseconds()
        return JSONResponse.make(
            JSONResponse.list(entries.prefix(limit).map { $0.json(nowMs: nowMs) }, hasMore: entries.count > limit))
    }

    private func get(_ id: String) throws -> Response {
        guard let entry = store.entry(id) else { throw Self.unknown(id) }
        return JSONResponse.make(entry.json(nowMs: WallClock.nowMilliseconds()))
    }

    private func update(_ request: Request, id: String) async throws -> Response {
        let body = try ChatRequest.parseObject(try await Gate.body(of: request, limit: 1 << 20))
        let nowMs = WallClock.nowMilliseconds()
        let metadata = body["metadata"] == nil ? nil : try self.metadata(body)
        let expiry = try self.expiry(body, now: Int(nowMs / 1000))
        guard let entry = store.update(id, { entry in
            if let metadata { entry.metadata = metadata }
            if let expiry { entry.expiredAt = expiry }
            entry.readyAtMs = nowMs + Int64(store.readyDelayMs)
        }) else { throw Self.unknown(id) }
        var json = entry.json(nowMs: nowMs)
        if case .object(var object) = json {
            object.set("status", .string("pending"))
            json = .object(object)
        }
        return JSONResponse.make(json)
    }

    private func metadata(_ body: JSONValue) throws(APIError) -> JSONObject {
        guard let value = body["metadata"], !value.isNull else { return JSONObject() }
        guard case .object(let object) = value else { throw .invalidRequest("'metadata' must be an object of strings") }
        if object.count > 16 { throw .invalidRequest("'metadata' may hold at most 16 pairs (got \(object.count))") }
        for (key, item) in object.pairs {
            guard key.count <= 64, let text = item.stringValue, text.count <= 512 else {
                throw .invalidRequest("metadata '\(key)': keys ≤ 64 characters, values strings of ≤ 512 characters")
            }
        }
        return object
    }

    /// `expired_at` (Unix seconds) xor `ttl` (seconds); nil when neither is given.
    private func expiry(_ body: JSONValue, now: Int) throws(APIError) -> Int? {
        let expiredAt = try ChatRequest.integer(body, "expired_at")
        let ttl = try ChatRequest.integer(body, "ttl")
        if expiredAt != nil && ttl != nil { throw .invalidRequest("give either 'expired_at' or 'ttl', not both") }
        if let ttl {
            guard ttl > 0 else { throw .invalidRequest("'ttl' must be a positive number of seconds") }
            return now + ttl
        }
        if let expiredAt {
            guard expiredAt > now else { throw .invalidRequest("'expired_at' must be in the future (now is \(now))") }
            return expiredAt
        }
        return nil
    }
}
