/// JSON text of chat completions and chunks, written directly (no tree) because this is the mock's hot path.
///
/// Field order follows the real API: `id, object, created, model, choices[, usage]`; choices carry
/// `index, delta|message, finish_reason[, usage]`.
struct ChatEncoding: Sendable {
    let id: String
    let created: Int
    let model: String

    init(id: String, created: Int, model: String) {
        self.id = id
        self.created = created
        self.model = model
    }

    /// The fixed start of every chunk of this completion, up to and including `"choices":[` (a stream computes it
    /// once and reuses it for every event).
    var chunkHead: String {
        "{\"id\":\(JSONText.quoted(id)),\"object\":\"chat.completion.chunk\",\"created\":\(created),\"model\":\(JSONText.quoted(model)),\"choices\":["
    }

    /// `{"prompt_tokens":…,"completion_tokens":…,"total_tokens":…}`, plus Moonshot's `cached_tokens` and OpenAI's
    /// `prompt_tokens_details.cached_tokens` when a context cache was used.
    static func usage(prompt: Int, completion: Int, cached: Int) -> String {
        var out = "{\"prompt_tokens\":\(prompt),\"completion_tokens\":\(completion),\"total_tokens\":\(prompt + completion)"
        if cached > 0 {
            out += ",\"cached_tokens\":\(cached),\"prompt_tokens_details\":{\"cached_tokens\":\(cached)}"
        }
        return out + "}"
    }

    /// The rest of a delta chunk after `chunkHead` (split so the stream never copies the head into a new string).
    func chunkTail(choice: Int, delta: Delta) -> String {
        var out = "{\"index\":\(choice),\"delta\":"
        out.reserveCapacity(96)
        Self.appendDelta(delta, to: &out)
        out += ",\"finish_reason\":null}]}"
        return out
    }

    func finishChunk(choice: Int, reason: String, usage: String?) -> String {
        var out = chunkHead
        out += "{\"index\":\(choice),\"delta\":{},\"finish_reason\":\(JSONText.quoted(reason))"
        if let usage { out += ",\"usage\":" + usage }
        out += "}]}"
        return out
    }

    /// OpenAI's usage-only chunk, sent when `stream_options.include_usage` is set.
    func usageChunk(usage: String) -> String {
        chunkHead + "],\"usage\":" + usage + "}"
    }

    static func appendDelta(_ delta: Delta, to out: inout String) {
        switch delta {
        case .role:
            out += "{\"role\":\"assistant\",\"content\":\"\"}"
        case .reasoning(let text):
            out += "{\"reasoning_content\":"
            JSONText.appendQuoted(text, to: &out)
            out += "}"
        case .content(let text):
            out += "{\"content\":"
            JSONText.appendQuoted(text, to: &out)
            out += "}"
        case .toolStart(let index, let id, let name):
            out += "{\"tool_calls\":[{\"index\":\(index),\"id\":\(JSONText.quoted(id)),\"type\":\"function\","
            out += "\"function\":{\"name\":\(JSONText.quoted(name)),\"arguments\":\"\"}}]}"
        case .toolArguments(let index, let fragment):
            out += "{\"tool_calls\":[{\"index\":\(index),\"function\":{\"arguments\":"
            JSONText.appendQuoted(fragment, to: &out)
            out += "}}]}"
        }
    }

    /// The start of a `chat.completion` object, up to and including `"choices":[`.
    var completionPrefix: String {
        "{\"id\":\(JSONText.quoted(id)),\"object\":\"chat.completion\",\"created\":\(created),\"model\":\(JSONText.quoted(model)),\"choices\":["
    }

    /// One complete choice of a `chat.completion`, with the message assembled from all of the emitter's deltas.
    static func message(choice: Int, emitter: inout ChoiceEmitter) -> String {
        // Texts are kept already escaped (escaping token by token equals escaping the concatenation).
        var content = ""
        content.reserveCapacity(emitter.plan.contentTokens * 6 + 16)
        var reasoning: String?
        var calls: [(id: String, name: String, arguments: String)] = []
        while let delta = emitter.next() {
            switch delta {
            case .role: break
            case .reasoning(let text):
                if reasoning == nil { reasoning = "" }
                JSONText.appendEscaped(text, to: &reasoning!)
            case .content(let text): JSONText.appendEscaped(text, to: &content)
            case .toolStart(_, let id, let name): calls.append((id, name, ""))
            case .toolArguments(_, let fragment): JSONText.appendEscaped(fragment, to: &calls[calls.count - 1].arguments)
            }
        }
        var out = "{\"index\":\(choice),\"message\":{\"role\":\"assistant\",\"content\":\""
        out.reserveCapacity(content.utf8.count + (reasoning?.utf8.count ?? 0) + 160)
        out += content
        out += "\""
        if let reasoning {
            out += ",\"reasoning_content\":\""
            out += reasoning
            out += "\""
        }
        if !calls.isEmpty {
            out += ",\"tool_calls\":["
            for (offset, call) in calls.enumerated() {
                if offset > 0 { out += "," }
                out += "{\"index\":\(offset),\"id\":\(JSONText.quoted(call.id)),\"type\":\"function\",\"function\":{\"name\":"
                JSONText.appendQuoted(call.name, to: &out)
                out += ",\"arguments\":\""
                out += call.arguments
                out += "\"}}"
            }
            out += "]"
        }
        out += "},\"finish_reason\":\(JSONText.quoted(emitter.plan.finishReason))}"
        return out
    }
}
