import NIOCore
import PalaceWire

/// A validated `POST /v1/chat/completions` body: only what the mock needs to shape its answer.
///
/// Invariant: a value exists only for a body the real API would accept; every rejection is an `APIError`
/// (400 `invalid_request_error`) whose message names the offending field.
struct ChatRequest: Sendable {
    var model: String
    /// The messages after the leading `role: "cache"` message (if any) was taken off.
    var messages: [JSONValue]
    var cacheMessage: CacheDirective?
    var stream: Bool
    var includeUsage: Bool
    var n: Int
    var maxTokens: Int?
    var seed: UInt64?
    var tools: [ToolSpec]
    var toolsJSON: JSONValue?
    var toolChoice: ToolChoice
    var parallelToolCalls: Bool
    /// Partial mode: the content of a last `{"role":"assistant","content":…,"partial":true}` message, which the
    /// answer continues without repeating it (Kimi's "partial mode").
    var partialPrefix: String?
    /// `response_format: {"type":"json_object"}`: the content is one valid JSON object.
    var jsonObject = false

    struct ToolSpec: Sendable {
        var name: String
        var parameters: JSONValue?
    }

    enum ToolChoice: Sendable, Equatable {
        case auto, none, required
        case function(String)
    }

    static let roles: Set<String> = ["system", "user", "assistant", "tool"]

    static func parse(_ body: ByteBuffer) throws(APIError) -> ChatRequest {
        let root = try parseObject(body)
        guard let model = root["model"]?.stringValue, !model.isEmpty else {
            throw .invalidRequest("field 'model' is required and must be a non-empty string")
        }
        guard case .array(var messages)? = root["messages"] else {
            throw .invalidRequest("field 'messages' is required and must be an array of message objects")
        }
        if messages.isEmpty { throw .invalidRequest("field 'messages' must contain at least one message") }

        var cache: CacheDirective?
        if messages[0]["role"]?.stringValue == "cache" {
            guard let content = messages[0]["content"]?.stringValue else {
                throw .invalidRequest("messages[0] has role 'cache' but its content is not a string like 'cache_id=cache-…'")
            }
            cache = try CacheDirective.parse(content)
            messages.removeFirst()
            if root["tools"].map({ !$0.isNull }) ?? false {
                throw .invalidRequest("'tools' must be null when a role=cache message is used (the cache supplies the tools)")
            }
        }
        for (index, message) in messages.enumerated() {
            try validate(message: message, at: index + (cache == nil ? 0 : 1))
        }
        if messages.isEmpty && cache == nil { throw .invalidRequest("field 'messages' must contain at least one message") }

        var request = ChatRequest(
            model: model, messages: messages, cacheMessage: cache,
            stream: try bool(root, "stream") ?? false, includeUsage: false, n: 1, maxTokens: nil, seed: nil,
            tools: [], toolsJSON: nil, toolChoice: .auto,
            parallelToolCalls: try bool(root, "parallel_tool_calls") ?? true)
        if let options = root["stream_options"], !options.isNull {
            guard case .object = options else { throw .invalidRequest("'stream_options' must be an object") }
            request.includeUsage = try bool(options, "include_usage") ?? false
        }
        if let n = try integer(root, "n") {
            guard (1...5).contains(n) else { throw .invalidRequest("'n' must be between 1 and 5 (got \(n))") }
            request.n = n
        }
        let completionLimit = try integer(root, "max_completion_tokens")
        if let maxTokens = try integer(root, "max_tokens") ?? completionLimit {
            guard maxTokens >= 1 else { throw .invalidRequest("'max_tokens' must be at least 1 (got \(maxTokens))") }
            request.maxTokens = maxTokens
        }
        if let seed = try integer(root, "seed") { request.seed = UInt64(bitPattern: Int64(seed)) }
        if let temperature = root["temperature"], !temperature.isNull {
            guard let value = temperature.doubleValue, (0...2).contains(value) else {
                throw .invalidRequest("'temperature' must be a number between 0 and 2 (got \(temperature.serialized()))")
            }
        }
        try parseTools(root, into: &request)
        try parseResponseFormat(root, into: &request)
        try parsePartial(into: &request, offset: cache == nil ? 0 : 1)
        return request
    }

    /// `response_format`: `{"type":"text"}` (the default) or `{"type":"json_object"}`.
    private static func parseResponseFormat(_ root: JSONValue, into request: inout ChatRequest) throws(APIError) {
        guard let format = root["response_format"], !format.isNull else { return }
        guard case .object = format, let type = format["type"]?.stringValue else {
            throw .invalidRequest("'response_format' must be an object like {\"type\": \"json_object\"}")
        }
        switch type {
        case "text": break
        case "json_object": request.jsonObject = true
        default:
            throw .invalidRequest("response_format.type must be \"text\" or \"json_object\" (got \"\(type)\")")
        }
    }

    /// Partial mode: `partial: true` is only meaningful on the last message, an assistant message whose content
    /// (a string) is the prefix of the answer. Kimi's documentation says not to combine it with json_object.
    private static func parsePartial(into request: inout ChatRequest, offset: Int) throws(APIError) {
        for (index, message) in request.messages.enumerated() {
            guard let flag = message["partial"], !flag.isNull else { continue }
            guard case .bool(let partial) = flag else {
                throw .invalidRequest("messages[\(index + offset)].partial must be true or false")
            }
            guard partial else { continue }
            guard index == request.messages.count - 1, message["role"]?.stringValue == "assistant" else {
                throw .invalidRequest(
                    "messages[\(index + offset)]: 'partial' is only allowed on the last message, which must have role 'assistant'")
            }
            guard let prefix = message["content"]?.stringValue else {
                throw .invalidRequest("messages[\(index + offset)]: a partial assistant message needs its content as a string")
            }
            if request.jsonObject {
                throw .invalidRequest("partial mode cannot be combined with response_format {\"type\": \"json_object\"}")
            }
            request.partialPrefix = prefix
        }
    }

    static func parseObject(_ body: ByteBuffer) throws(APIError) -> JSONValue {
        let root: JSONValue
        do {
            root = try JSONValue.parse(body.readableBytesView)
        } catch {
            throw .invalidRequest("the body is not valid JSON: \(error)")
        }
        guard case .object = root else { throw .invalidRequest("the body must be a JSON object") }
        return root
    }

    private static func validate(message: JSONValue, at index: Int) throws(APIError) {
        guard case .object = message else { throw .invalidRequest("messages[\(index)] must be an object") }
        guard let role = message["role"]?.stringValue else {
            throw .invalidRequest("messages[\(index)].role is required (one of system, user, assistant, tool)")
        }
        if role == "cache" {
            throw .invalidRequest("messages[\(index)]: a role=cache message is only allowed as the first message")
        }
        guard roles.contains(role) else {
            throw .invalidRequest("messages[\(index)].role must be one of system, user, assistant, tool (got '\(role)')")
        }
        let content = message["content"]
        switch content {
        case .string?, .array?: break
        case nil, .null?:
            let hasToolCalls = message["tool_calls"].map { if case .array = $0 { true } else { false } } ?? false
            if !(role == "assistant" && hasToolCalls) {
                throw .invalidRequest("messages[\(index)].content is required for role '\(role)'")
            }
        default:
            throw .invalidRequest("messages[\(index)].content must be a string or an array of content parts")
        }
        if role == "tool" && message["tool_call_id"]?.stringValue == nil {
            throw .invalidRequest("messages[\(index)] has role 'tool' but no 'tool_call_id'")
        }
    }

    private static func parseTools(_ root: JSONValue, into request: inout ChatRequest) throws(APIError) {
        if let tools = root["tools"], !tools.isNull {
            guard case .array(let list) = tools else { throw .invalidRequest("'tools' must be an array") }
            if list.count > 128 { throw .invalidRequest("'tools' may hold at most 128 functions (got \(list.count))") }
            for (index, tool) in list.enumerated() {
                guard tool["type"]?.stringValue == "function", let function = tool["function"],
                    let name = function["name"]?.stringValue
                else {
                    throw .invalidRequest("tools[\(index)] must be {\"type\":\"function\",\"function\":{\"name\":…}}")
                }
                guard isValidToolName(name) else {
                    throw .invalidRequest(
                        "tools[\(index)].function.name '\(name)' must start with a letter or '_' and contain at most 64 letters, digits, '_' or '-'")
                }
                request.tools.append(ToolSpec(name: name, parameters: function["parameters"]))
            }
            request.toolsJSON = list.isEmpty ? nil : tools
        }
        switch root["tool_choice"] {
        case nil, .null?: break
        case .string("auto")?: request.toolChoice = .auto
        case .string("none")?: request.toolChoice = .none
        case .string("required")?: request.toolChoice = .required
        case let choice?:
            guard let name = choice["function"]?["name"]?.stringValue else {
                throw .invalidRequest("'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":…}}")
            }
            guard request.tools.contains(where: { $0.name == name }) else {
                throw .invalidRequest("'tool_choice' names function '\(name)', which is not in 'tools'")
            }
            request.toolChoice = .function(name)
        }
    }

    static func isValidToolName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 64 else { return false }
        func isLetter(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
        guard isLetter(first) || first == 95 else { return false }
        return bytes.allSatisfy { isLetter($0) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 45 }
    }

    static func bool(_ object: JSONValue, _ key: String) throws(APIError) -> Bool? {
        guard let value = object[key], !value.isNull else { return nil }
        guard case .bool(let flag) = value else { throw .invalidRequest("'\(key)' must be true or false") }
        return flag
    }

    static func integer(_ object: JSONValue, _ key: String) throws(APIError) -> Int? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let number = value.intValue else { throw .invalidRequest("'\(key)' must be an integer (got \(value.serialized()))") }
        return number
    }
}
