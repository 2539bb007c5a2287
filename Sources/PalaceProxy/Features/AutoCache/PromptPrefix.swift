import PalaceWire

/// The cacheable prefixes of a chat request (reference §9.4, with its collisions fixed).
///
/// One running 128-bit FNV-1a hash is fed the model family, the `tools` JSON, then each message's whole compact
/// JSON (role, content — text or multimodal parts —, `name`, `tool_call_id`, `tool_calls`, …) with a separator
/// after each message, so message boundaries, `tool_call_id` and `name` all count and different splits of the same
/// text never collide. After each message whose running byte count (tools + messages) exceeds `minBytes`, the
/// digest so far is a *point*: a prefix a cache could cover. A trailing `partial` assistant message is never part
/// of a prefix (the caching API refuses it), nor is anything after a `role: "cache"` message (the client manages
/// its caches itself: nothing is done).
struct PromptPrefix: Sendable, Equatable {
    struct Point: Sendable, Equatable {
        var hash: String
        var bytes: Int
        var messageCount: Int
    }

    /// The caching API's model family: `moonshot-v1-8k` → `moonshot-v1`; other models as the request names them.
    var family: String
    var points: [Point]
    /// Hashed bytes of the whole prompt (tools + every message).
    var totalBytes: Int
    var messages: [JSONValue]
    var tools: JSONValue?

    init?(body: [UInt8], minBytes: Int) {
        guard case .object(let request)? = try? JSONValue.parse(body),
              let model = request["model"]?.stringValue, !model.isEmpty,
              case .array(let messages)? = request["messages"], !messages.isEmpty else { return nil }
        if messages.contains(where: { $0["role"]?.stringValue == "cache" }) { return nil }
        family = model.hasPrefix("moonshot-v1") ? "moonshot-v1" : model
        let tools = request["tools"].flatMap { $0.isNull ? nil : $0 }
        self.tools = tools
        self.messages = messages
        var hash = FNV128()
        hash.feed("model\u{0}\(family)\u{0}")
        var bytes = 0
        if let tools {
            let text = tools.serializedBytes()
            hash.feed("tools\u{0}")
            hash.feed(text)
            bytes += text.count
        }
        hash.feed("\u{1}")
        points = []
        for (index, message) in messages.enumerated() {
            if message["partial"]?.boolValue == true { break }
            let text = message.serializedBytes()
            hash.feed(text)
            hash.feed("\u{1E}")   // record separator: the boundary is part of the prefix
            bytes += text.count
            if bytes > minBytes { points.append(Point(hash: hash.hex, bytes: bytes, messageCount: index + 1)) }
        }
        totalBytes = bytes
    }
}

/// FNV-1a, 128-bit (offset basis and prime from the FNV specification).
struct FNV128: Sendable {
    private var state: UInt128 = 0x6c62272e07bb014262b821756295c58d
    private static let prime: UInt128 = 0x0000000001000000000000000000013B

    mutating func feed(_ bytes: some Sequence<UInt8>) {
        for b in bytes {
            state ^= UInt128(b)
            state = state &* Self.prime
        }
    }

    mutating func feed(_ text: String) { feed(text.utf8) }

    var hex: String {
        let s = String(state, radix: 16)
        return String(repeating: "0", count: 32 - s.count) + s
    }

    /// The hex digest of `text` (used for API-key identities: keys themselves are never stored).
    static func hex(_ text: String) -> String {
        var h = FNV128()
        h.feed(text)
        return h.hex
    }
}
