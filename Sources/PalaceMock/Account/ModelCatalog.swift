import PalaceWire

/// The models `GET /v1/models` lists. Chat accepts these and any other `moonshot-*` / `kimi-*` name (new models
/// appear often); anything else is the real API's 404 "Not found the model … or Permission denied".
enum ModelCatalog {
    static let models: [(id: String, contextLength: Int)] = [
        ("moonshot-v1-8k", 8192), ("moonshot-v1-32k", 32768), ("moonshot-v1-128k", 131072),
        ("moonshot-v1-auto", 131072), ("moonshot-v1-8k-vision-preview", 8192),
        ("kimi-latest", 131072), ("kimi-k2-0905-preview", 262144), ("kimi-k2-turbo-preview", 262144),
        ("kimi-k2-thinking", 262144), ("kimi-k2-thinking-turbo", 262144),
    ]

    static func isServed(_ model: String) -> Bool {
        model.hasPrefix("moonshot-") || model.hasPrefix("kimi-") || models.contains { $0.id == model }
    }

    static let created = 1_700_000_000

    static var listJSON: JSONValue {
        JSONResponse.list(models.map { model in
            JSONResponse.object([
                "id": .string(model.id), "object": .string("model"), "created": JSONResponse.int(created),
                "owned_by": .string("moonshot"), "root": .string(model.id), "parent": .null,
                "context_length": JSONResponse.int(model.contextLength),
                "permission": .array([]),
            ])
        })
    }
}
