/// The `message` of one choice, built from its deltas.
struct MessageAccumulator: Sendable {
    /// Members concatenated across deltas: `content`, `reasoning_content`, `refusal`.
    @inline(__always)
    static func isTextKey(_ key: String) -> Bool {
        key == "content" || key == "reasoning_content" || key == "refusal"
    }

    var order: [String] = []
    var role: JSONValue?
    var texts: [String: String] = [:]
    var others = JSONObject()
    var toolCalls: [ToolCallAccumulator] = []
    var toolCallPositions: [Int: Int] = [:]

    mutating func add(_ delta: JSONObject) {
        for (key, value) in delta {
            if !order.contains(key) { order.append(key) }
            switch key {
            case "role":
                if case .string(let s) = value, !s.isEmpty { role = value }
            case "tool_calls":
                if case .array(let calls) = value {
                    for case .object(let call) in calls { addToolCall(call) }
                } else {
                    others.mergeLastNonNull(key, value)
                }
            default:
                if case .string(let fragment) = value, Self.isTextKey(key) {
                    texts[key, default: ""].append(fragment)
                } else {
                    others.mergeLastNonNull(key, value)
                }
            }
        }
    }

    /// Routes a tool-call fragment by its `index`; a fragment without one continues the last call unless it
    /// brings a new `id`.
    private mutating func addToolCall(_ call: JSONObject) {
        var index = call["index"]?.intValue
        if index == nil {
            let last = toolCalls.last
            if case .string(let id)? = call["id"], !id.isEmpty, last?.id != id {
                index = (toolCalls.map(\.index).max() ?? -1) + 1
            } else {
                index = last?.index ?? 0
            }
        }
        let i = index!
        if let at = toolCallPositions[i] {
            toolCalls[at].add(call)
        } else {
            toolCallPositions[i] = toolCalls.count
            var accumulator = ToolCallAccumulator(index: i)
            accumulator.add(call)
            toolCalls.append(accumulator)
        }
    }

    func result() -> JSONObject {
        var out = JSONObject()
        out.appendNew("role", role ?? "assistant")
        if !order.contains("content") { out.appendNew("content", .null) }
        for key in order where key != "role" {
            if let text = texts[key] {
                out.appendNew(key, .string(text))
            } else if key == "tool_calls", !toolCalls.isEmpty {
                let calls = toolCalls.sorted { $0.index < $1.index }.map { JSONValue.object($0.result()) }
                out.appendNew(key, .array(calls))
            } else if let value = others[key] {
                out.appendNew(key, value)
            }
        }
        return out
    }
}

/// One tool call of a message, built from its fragments.
struct ToolCallAccumulator: Sendable {
    let index: Int
    var id: String?
    var type: String?
    var name: String?
    var arguments = ""
    var others = JSONObject()
    var functionOthers = JSONObject()

    init(index: Int) { self.index = index }

    mutating func add(_ call: JSONObject) {
        for (key, value) in call {
            switch (key, value) {
            case ("index", _): continue
            case ("id", .string(let s)): if !s.isEmpty || id == nil { id = s }
            case ("type", .string(let s)): if !s.isEmpty || type == nil { type = s }
            case ("function", .object(let function)):
                for (fkey, fvalue) in function {
                    switch (fkey, fvalue) {
                    case ("name", .string(let s)): if !s.isEmpty || name == nil { name = s }
                    case ("arguments", .string(let s)): arguments.append(s)
                    default: functionOthers.mergeLastNonNull(fkey, fvalue)
                    }
                }
            default: others.mergeLastNonNull(key, value)
            }
        }
    }

    /// `{id, type, function: {name, arguments}, …}` without `index`; `type` defaults to "function".
    func result() -> JSONObject {
        var out = JSONObject()
        if let id { out.appendNew("id", .string(id)) }
        out.appendNew("type", .string(type ?? "function"))
        var function = JSONObject()
        if let name { function.appendNew("name", .string(name)) }
        function.appendNew("arguments", .string(arguments))
        for (key, value) in functionOthers where !function.contains(key) { function.appendNew(key, value) }
        out.appendNew("function", .object(function))
        for (key, value) in others where !out.contains(key) { out.appendNew(key, value) }
        return out
    }
}
