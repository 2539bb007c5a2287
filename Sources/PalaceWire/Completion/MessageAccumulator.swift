/// The `message` of one choice, built from its deltas.
///
/// Text members (`content`, `reasoning_content`, `refusal`) are kept as UTF-8 bytes and appended in place, so the
/// byte-level fast path of `CompletionMerger` never builds a `String` per fragment.
struct MessageAccumulator: Sendable {
    /// Members concatenated across deltas.
    enum TextField: Int, Sendable {
        case content, reasoning, refusal

        init?(_ key: String) {
            switch key {
            case "content": self = .content
            case "reasoning_content": self = .reasoning
            case "refusal": self = .refusal
            default: return nil
            }
        }
    }

    /// Delta member names in first-seen order.
    var order: [String] = []
    /// Which of the well-known names are in `order` (see `knownBit`), so the fast path never searches `order`.
    var orderBits: UInt8 = 0
    var role: JSONValue?
    var content: [UInt8]?
    var reasoning: [UInt8]?
    var refusal: [UInt8]?
    var others = JSONObject()
    var toolCalls: [ToolCallAccumulator] = []
    var toolCallPositions: [Int: Int] = [:]

    static let roleBit: UInt8 = 1, contentBit: UInt8 = 2, reasoningBit: UInt8 = 4, refusalBit: UInt8 = 8, toolCallsBit: UInt8 = 16

    static func knownBit(_ key: String) -> UInt8 {
        switch key {
        case "role": roleBit
        case "content": contentBit
        case "reasoning_content": reasoningBit
        case "refusal": refusalBit
        case "tool_calls": toolCallsBit
        default: 0
        }
    }

    /// Records that a delta carried `key` (first-seen order).
    mutating func note(_ key: String) {
        note(key, bit: Self.knownBit(key))
    }

    /// `note` for a name whose bit the caller knows (0: not a well-known name).
    @inline(__always)
    mutating func note(_ key: @autoclosure () -> String, bit: UInt8) {
        if bit != 0 {
            guard orderBits & bit == 0 else { return }
            orderBits |= bit
            order.append(key())
        } else {
            let name = key()
            if !order.contains(name) { order.append(name) }
        }
    }

    func text(_ field: TextField) -> [UInt8]? {
        switch field {
        case .content: content
        case .reasoning: reasoning
        case .refusal: refusal
        }
    }

    /// Appends to a text member in place; returns where the new bytes start.
    @inline(__always)
    mutating func appendText(_ field: TextField, _ append: (inout [UInt8]) -> Void) -> Int {
        switch field {
        case .content:
            if content == nil { content = [] }
            let start = content!.count
            append(&content!)
            return start
        case .reasoning:
            if reasoning == nil { reasoning = [] }
            let start = reasoning!.count
            append(&reasoning!)
            return start
        case .refusal:
            if refusal == nil { refusal = [] }
            let start = refusal!.count
            append(&refusal!)
            return start
        }
    }

    mutating func add(_ delta: JSONObject) {
        for (key, value) in delta {
            note(key)
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
                if case .string(let fragment) = value, let field = TextField(key) {
                    _ = appendText(field) { $0.append(contentsOf: fragment.utf8) }
                } else {
                    others.mergeLastNonNull(key, value)
                }
            }
        }
    }

    /// Where a tool-call fragment goes: its `index`; without one it continues the last call unless it brings a
    /// new `id`.
    func toolCallIndex(index: Int?, id: String?) -> Int {
        if let index { return index }
        let last = toolCalls.last
        if let id, !id.isEmpty, last?.id != id {
            return (toolCalls.map(\.index).max() ?? -1) + 1
        }
        return last?.index ?? 0
    }

    /// The position in `toolCalls` of the call with `index`, created if new.
    mutating func toolCallPosition(_ index: Int) -> Int {
        if let at = toolCallPositions[index] { return at }
        toolCallPositions[index] = toolCalls.count
        toolCalls.append(ToolCallAccumulator(index: index))
        return toolCalls.count - 1
    }

    private mutating func addToolCall(_ call: JSONObject) {
        let index = toolCallIndex(index: call["index"]?.intValue, id: call["id"]?.stringValue)
        toolCalls[toolCallPosition(index)].add(call)
    }

    func result() -> JSONObject {
        var out = JSONObject()
        out.appendNew("role", role ?? "assistant")
        if orderBits & Self.contentBit == 0 { out.appendNew("content", .null) }
        for key in order where key != "role" {
            if let field = TextField(key), let text = text(field) {
                out.appendNew(key, .string(String(decoding: text, as: UTF8.self)))
            } else if key == "tool_calls", !toolCalls.isEmpty {
                out.appendNew(key, .array(sortedToolCalls().map { JSONValue.object($0.result()) }))
            } else if let value = others[key] {
                out.appendNew(key, value)
            }
        }
        return out
    }

    func sortedToolCalls() -> [ToolCallAccumulator] { toolCalls.sorted { $0.index < $1.index } }

    /// Writes `result()`'s JSON directly (texts from their bytes, no intermediate `String`).
    func write(to w: inout JSONWriter) {
        w.out.append(UInt8(ascii: "{"))
        w.writeString("role")
        w.out.append(UInt8(ascii: ":"))
        w.write(role ?? "assistant", level: 0)
        if orderBits & Self.contentBit == 0 { w.append(#","content":null"#) }
        for key in order where key != "role" {
            if let field = TextField(key), let text = text(field) {
                w.member(key)
                text.withUnsafeBufferPointer { w.writeString(utf8: $0) }
            } else if key == "tool_calls", !toolCalls.isEmpty {
                w.member(key)
                w.out.append(UInt8(ascii: "["))
                for (i, call) in sortedToolCalls().enumerated() {
                    if i > 0 { w.out.append(UInt8(ascii: ",")) }
                    call.write(to: &w)
                }
                w.out.append(UInt8(ascii: "]"))
            } else if let value = others[key] {
                w.member(key)
                w.write(value, level: 0)
            }
        }
        w.out.append(UInt8(ascii: "}"))
    }

    /// Whether the message carries output (as `CompletionFacts.hasOutput` reads it from `result()`).
    var hasOutput: Bool {
        if let c = content, !c.isEmpty { return true }
        if let r = reasoning, !r.isEmpty { return true }
        return toolCalls.contains { !$0.arguments.isEmpty }
    }
}

/// One tool call of a message, built from its fragments.
struct ToolCallAccumulator: Sendable {
    let index: Int
    var id: String?
    var type: String?
    var name: String?
    var arguments: [UInt8] = []
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
                    case ("arguments", .string(let s)): arguments.append(contentsOf: s.utf8)
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
        function.appendNew("arguments", .string(String(decoding: arguments, as: UTF8.self)))
        for (key, value) in functionOthers where !function.contains(key) { function.appendNew(key, value) }
        out.appendNew("function", .object(function))
        for (key, value) in others where !out.contains(key) { out.appendNew(key, value) }
        return out
    }

    func write(to w: inout JSONWriter) {
        w.write(.object(result()), level: 0)
    }
}
