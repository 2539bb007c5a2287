import HTTPTypes
import PalaceWire
import Synchronization

/// One context cache. Status is derived from time: `pending` until `readyAtMs`, then `ready`, `inactive` once
/// `expiredAt` has passed; an update or a TTL reset of an inactive cache sends it back to `pending`.
struct CacheEntry: Sendable {
    var id: String
    var model: String
    var messages: [JSONValue]
    var tools: JSONValue?
    var name: String?
    var description: String?
    var metadata: JSONObject
    var tags: [String] = []
    var tokens: Int
    var createdAt: Int
    var expiredAt: Int
    var readyAtMs: Int64

    func status(nowMs: Int64) -> String {
        if nowMs >= Int64(expiredAt) * 1000 { return "inactive" }
        return nowMs < readyAtMs ? "pending" : "ready"
    }

    func json(nowMs: Int64) -> JSONValue {
        var object = JSONObject()
        object.set("id", .string(id))
        object.set("status", .string(status(nowMs: nowMs)))
        object.set("object", .string("context-cache"))
        object.set("created_at", .number(String(createdAt)))
        object.set("expired_at", .number(String(expiredAt)))
        object.set("tokens", .number(String(tokens)))
        object.set("model", .string(model))
        object.set("messages", .array(messages))
        object.set("tools", tools ?? .null)
        object.set("name", name.map(JSONValue.string) ?? .null)
        object.set("description", description.map(JSONValue.string) ?? .null)
        object.set("metadata", .object(metadata))
        object.set("tags", .array(tags.map(JSONValue.string)))
        return .object(object)
    }
}

/// What using a cache in one chat request amounts to.
struct CacheUse: Sendable {
    var cachedMessages: [JSONValue] = []
    var tools: JSONValue?
    var cachedTokens = 0
    var dryRun = false
    var responseHeaders = HTTPFields()
}

/// The in-memory context caches and tags of one mock server. Thread-safe (one mutex; operations are short).
final class CacheStore: Sendable {
    struct State {
        var entries: [String: CacheEntry] = [:]
        var order: [String] = []
        var tags: [String: (cacheID: String, createdAt: Int)] = [:]
    }

    let state = Mutex(State())
    let readyDelayMs: Int

    static let idHeader = HTTPField.Name("Msh-Context-Cache-Id")!
    static let savedHeader = HTTPField.Name("Msh-Context-Cache-Token-Saved")!
    static let expHeader = HTTPField.Name("Msh-Context-Cache-Token-Exp")!

    init(readyDelayMs: Int) { self.readyDelayMs = readyDelayMs }

    func insert(_ entry: CacheEntry) {
        state.withLock {
            $0.entries[entry.id] = entry
            $0.order.append(entry.id)
            for tag in entry.tags { $0.tags[tag] = (entry.id, entry.createdAt) }
        }
    }

    func entry(_ id: String) -> CacheEntry? { state.withLock { $0.entries[id] } }

    func update(_ id: String, _ change: (inout CacheEntry) -> Void) -> CacheEntry? {
        state.withLock {
            guard var entry = $0.entries[id] else { return nil }
            change(&entry)
            $0.entries[id] = entry
            return entry
        }
    }

    func remove(_ id: String) -> Bool {
        state.withLock {
            guard $0.entries.removeValue(forKey: id) != nil else { return false }
            $0.order.removeAll { $0 == id }
            return true
        }
    }

    func all() -> [CacheEntry] { state.withLock { s in s.order.compactMap { s.entries[$0] } } }

    /// Resolves the request's cache directive (message or header form), applies `reset_ttl`, substitutes the
    /// cached messages and tools (message form) or checks the request repeats them (header form).
    /// Unknown id/tag → 404; inactive without a TTL reset → 400 (both in the real error shape).
    func apply(to chat: inout ChatRequest, headers: HTTPFields) throws(APIError) -> CacheUse {
        let directive: CacheDirective
        if let message = chat.cacheMessage {
            directive = message
        } else if let header = try CacheDirective.fromHeaders(headers) {
            directive = header
        } else {
            return CacheUse()
        }
        let nowMs = WallClock.nowMilliseconds()
        let now = Int(nowMs / 1000)
        let resolved: Result<CacheEntry, APIError> = state.withLock { s in
            let id: String
            switch directive.target {
            case .id(let value): id = value
            case .tag(let tag):
                guard let ref = s.tags[tag] else { return .failure(.notFound("Tag \(tag) not found: create it with POST /v1/caching/refs/tags")) }
                id = ref.cacheID
            }
            guard var entry = s.entries[id] else {
                return .failure(.notFound("Context cache \(id) not found: it was deleted or never existed (create one with POST /v1/caching)"))
            }
            if let reset = directive.resetTTL {
                if entry.status(nowMs: nowMs) == "inactive" { entry.readyAtMs = nowMs + Int64(readyDelayMs) }
                entry.expiredAt = now + reset
                s.entries[id] = entry
            } else if entry.status(nowMs: nowMs) == "inactive" {
                return .failure(.invalidRequest(
                    "context cache \(id) is inactive (expired at \(entry.expiredAt)); revive it with reset_ttl or X-Msh-Context-Cache-Reset-TTL, or create a new one"))
            }
            return .success(entry)
        }
        let entry = try resolved.get()
        var use = CacheUse(dryRun: directive.dryRun)
        if directive.substitutes {
            use.cachedMessages = entry.messages
            use.tools = entry.tools
            if let tools = entry.tools, case .array(let list) = tools {
                chat.toolsJSON = tools
                chat.tools = list.compactMap { tool in
                    tool["function"]?["name"]?.stringValue.map { ChatRequest.ToolSpec(name: $0, parameters: tool["function"]?["parameters"]) }
                }
            }
        } else {
            let prefixMatches = chat.messages.count >= entry.messages.count
                && zip(chat.messages, entry.messages).allSatisfy { $0.serialized() == $1.serialized() }
                && (chat.toolsJSON?.serialized() ?? "null") == (entry.tools?.serialized() ?? "null")
            guard prefixMatches else { return use }
        }
        if entry.status(nowMs: nowMs) == "ready" { use.cachedTokens = entry.tokens }
        use.responseHeaders[Self.idHeader] = entry.id
        use.responseHeaders[Self.savedHeader] = String(use.cachedTokens)
        use.responseHeaders[Self.expHeader] = String(entry.expiredAt)
        return use
    }
}
