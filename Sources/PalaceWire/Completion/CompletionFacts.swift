/// Token counts of one completion, in the API's terms. `cachedTokens` is 0 when the server did not say.
public struct WireUsage: Sendable, Hashable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    public var cachedTokens: Int

    public init(promptTokens: Int, completionTokens: Int, totalTokens: Int, cachedTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens
        self.cachedTokens = cachedTokens
    }

    /// Reads a `usage` object: missing counts are 0, a missing `total_tokens` is prompt + completion, and
    /// cached tokens come from Moonshot's `cached_tokens` or OpenAI's `prompt_tokens_details.cached_tokens`.
    /// Nil when `value` is not an object with at least one token count.
    public init?(_ value: JSONValue) {
        guard case .object(let u) = value else { return nil }
        let prompt = u["prompt_tokens"]?.intValue
        let completion = u["completion_tokens"]?.intValue
        let total = u["total_tokens"]?.intValue
        guard prompt != nil || completion != nil || total != nil else { return nil }
        promptTokens = prompt ?? 0
        completionTokens = completion ?? 0
        totalTokens = total ?? (promptTokens + completionTokens)
        cachedTokens = u["cached_tokens"]?.intValue
            ?? u["prompt_tokens_details"]?["cached_tokens"]?.intValue ?? 0
    }
}

/// What the proxy, the index and the log block need to know about a `chat.completion` or one stream chunk.
///
/// For a whole stream, take the facts of `CompletionMerger.result()` (usage of every choice folded, final finish
/// reasons); per chunk, `hasOutput` tells when the first token arrived (TTFT).
public struct CompletionFacts: Sendable, Hashable {
    /// Top-level `id` (the `chatcmpl-…` id), nil when absent or empty.
    public var id: String?
    /// Top-level `object` (`chat.completion`, `chat.completion.chunk`, …).
    public var object: String?
    public var model: String?
    public var created: Int?
    /// Top-level `usage` if present, else the per-choice usages folded like `CompletionMerger` does.
    public var usage: WireUsage?
    /// Non-null finish reason of each choice, by choice index.
    public var finishReasons: [Int: String]
    /// Whether any choice carries output: non-empty `content` or `reasoning_content`, or non-empty tool-call
    /// `arguments` (in `delta` or `message`).
    public var hasOutput: Bool

    public init(id: String? = nil, object: String? = nil, model: String? = nil, created: Int? = nil,
                usage: WireUsage? = nil, finishReasons: [Int: String] = [:], hasOutput: Bool = false) {
        self.id = id
        self.object = object
        self.model = model
        self.created = created
        self.usage = usage
        self.finishReasons = finishReasons
        self.hasOutput = hasOutput
    }

    /// Finish reasons in choice-index order (what the log stores).
    public var orderedFinishReasons: [String] {
        finishReasons.sorted { $0.key < $1.key }.map(\.value)
    }

    /// Extracts the facts; any shape is accepted (missing parts stay nil/empty, never an error).
    public static func of(_ value: JSONValue) -> CompletionFacts {
        var facts = CompletionFacts()
        guard case .object(let o) = value else { return facts }
        if case .string(let s)? = o["id"], !s.isEmpty { facts.id = s }
        facts.object = o["object"]?.stringValue
        if case .string(let s)? = o["model"], !s.isEmpty { facts.model = s }
        facts.created = o["created"]?.intValue
        var choiceUsages: [(Int, JSONValue)] = []
        if case .array(let choices)? = o["choices"] {
            for (position, item) in choices.enumerated() {
                guard case .object(let choice) = item else { continue }
                let index = choice["index"]?.intValue ?? position
                if case .string(let reason)? = choice["finish_reason"] { facts.finishReasons[index] = reason }
                if let u = choice["usage"], case .object = u { choiceUsages.append((index, u)) }
                if !facts.hasOutput {
                    facts.hasOutput = carriesOutput(choice["delta"]) || carriesOutput(choice["message"])
                }
            }
        }
        if let top = o["usage"], let usage = WireUsage(top) {
            facts.usage = usage
        } else if !choiceUsages.isEmpty {
            let ordered = choiceUsages.sorted { $0.0 < $1.0 }.map { $0.1 }
            var usage = WireUsage(ordered[0])
            for extra in ordered.dropFirst() {
                guard let n = extra["completion_tokens"]?.intValue, usage != nil else { continue }
                usage!.completionTokens += n
                usage!.totalTokens += n
            }
            facts.usage = usage
        }
        return facts
    }

    private static func carriesOutput(_ message: JSONValue?) -> Bool {
        guard case .object(let m)? = message else { return false }
        if case .string(let s)? = m["content"], !s.isEmpty { return true }
        if case .string(let s)? = m["reasoning_content"], !s.isEmpty { return true }
        if case .array(let calls)? = m["tool_calls"] {
            for call in calls {
                if case .string(let args)? = call["function"]?["arguments"], !args.isEmpty { return true }
            }
        }
        return false
    }
}
