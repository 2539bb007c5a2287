import PalaceWire

/// What one chat request will answer, decided before the first byte is written.
///
/// Invariant: a plan depends only on the request (model, messages, tools, n, max_tokens), the effective seed and
/// the scenarios — never on time or ids — so the same request + seed produces the same content bytes.
struct ChatPlan: Sendable {
    var choices: [ChoicePlan]
    var promptTokens: Int
    var cachedTokens: Int

    /// Token estimate of a tool call: name plus arguments at ~4 bytes per token.
    static func toolTokens(_ call: ToolCallPlan) -> Int { 1 + (call.arguments.utf8.count + 3) / 4 }

    init(request: ChatRequest, settings: RequestSettings, promptTokens: Int, cachedTokens: Int) {
        self.promptTokens = promptTokens
        self.cachedTokens = cachedTokens
        // Partial mode: the conversation without the partial assistant message seeds the answer, so a prefix that
        // is the start of that answer (say, a `length`-cut earlier answer) is continued by exactly its rest.
        let partial = request.partialPrefix != nil
        var hash = StableHash(request.seed ?? settings.seed)
        hash.mix(request.model)
        for message in partial ? request.messages.dropLast() : request.messages[...] { hash.mix(message.serialized()) }
        if let tools = request.toolsJSON { hash.mix(tools.serialized()) }
        var fullHash = hash
        if partial, let last = request.messages.last { fullHash.mix(last.serialized()) }
        // On the UTF-8 view: the standard library's search. `String.contains(String)` would be Foundation's, which
        // goes through NSString/CFString and maps CoreFoundation's Unicode tables for a plain substring test.
        let thinking = request.model.lowercased().utf8.contains("thinking".utf8)
        choices = (0..<request.n).map { index in
            var choiceHash = hash
            choiceHash.mix(UInt64(index))
            var fallback = fullHash
            fallback.mix(UInt64(index))
            return ChoicePlan(
                index: index, seed: choiceHash.value, fallbackSeed: fallback.value, request: request,
                settings: settings, thinking: thinking)
        }
    }
}

struct ToolCallPlan: Sendable {
    var id: String
    var name: String
    var arguments: String
}

/// One choice: how many reasoning and content tokens, which tool calls, and the finish reason.
struct ChoicePlan: Sendable {
    var index: Int
    var seed: UInt64
    var reasoningTokens = 0
    var contentTokens = 0
    /// `huge`: emit content until this many bytes instead of counting tokens.
    var hugeBytes: Int?
    /// `repeat`: after this many tokens the text loops on one phrase.
    var loopAfter: Int?
    var toolCalls: [ToolCallPlan] = []
    var finishReason = "stop"
    /// Partial mode: content tokens already given by the client's prefix (the emitter skips them).
    var skipTokens = 0
    /// `json_object`: the content, as fragments (one per token).
    var jsonFragments: [String]?

    init(index: Int, seed: UInt64, fallbackSeed: UInt64? = nil, request: ChatRequest, settings: RequestSettings,
         thinking: Bool) {
        self.index = index
        var seed = seed
        if let prefix = request.partialPrefix {
            var probe = SeededRandom(seed: seed)
            let natural = settings.chunks ?? probe.within(12...60)
            if !settings.has(.huge), !settings.has(.repeat),
               let covered = Self.tokensCovering(prefix, seed: seed, limit: natural) {
                skipTokens = covered
            } else {
                seed = fallbackSeed ?? seed   // not the start of the base answer: fresh text after the prefix
            }
        }
        self.seed = seed
        var rng = SeededRandom(seed: seed)
        let natural = settings.chunks ?? rng.within(12...60)
        if thinking { reasoningTokens = rng.within(8...30) }
        contentTokens = natural - skipTokens

        if settings.has(.huge) {
            hugeBytes = settings.hugeBytes
            return
        }
        if settings.has(.repeat) {
            contentTokens = max(1, (request.maxTokens ?? 1024) - reasoningTokens)
            loopAfter = min(8, contentTokens / 2)
            finishReason = "length"
            return
        }
        if settings.has(.length) {
            contentTokens = max(1, (natural - skipTokens) / 2)
            finishReason = "length"
        } else if wantsToolCalls(request) {
            contentTokens = 0
            toolCalls = planToolCalls(request, rng: &rng)
            finishReason = "tool_calls"
        }
        if request.jsonObject && toolCalls.isEmpty {
            let fragments = JSONContent.fragments(seed: seed, tokens: natural)
            jsonFragments = fragments
            contentTokens = settings.has(.length) ? max(1, fragments.count / 2) : fragments.count
        }
        applyMaxTokens(request.maxTokens)
    }

    /// How many of the base answer's first tokens spell exactly `prefix`, or nil when it is not such a start.
    static func tokensCovering(_ prefix: String, seed: UInt64, limit: Int) -> Int? {
        let target = Array(prefix.utf8)
        if target.isEmpty { return 0 }
        var text = TextGenerator(seed: seed)
        var matched = 0
        for tokens in 1...max(1, limit) {
            let token = text.next().utf8
            guard matched + token.count <= target.count,
                  target[matched..<(matched + token.count)].elementsEqual(token) else { return nil }
            matched += token.count
            if matched == target.count { return tokens }
        }
        return nil
    }

    private func wantsToolCalls(_ request: ChatRequest) -> Bool {
        guard !request.tools.isEmpty, request.partialPrefix == nil else { return false }
        switch request.toolChoice {
        case .none: return false
        case .required, .function: return true
        case .auto: return request.messages.last?["role"]?.stringValue != "tool"
        }
    }

    private func planToolCalls(_ request: ChatRequest, rng: inout SeededRandom) -> [ToolCallPlan] {
        var chosen: [ChatRequest.ToolSpec]
        if case .function(let name) = request.toolChoice {
            chosen = request.tools.filter { $0.name == name }
        } else {
            chosen = Array(request.tools.prefix(request.parallelToolCalls ? 3 : 1))
        }
        if chosen.isEmpty { chosen = [request.tools[0]] }
        return chosen.enumerated().map { offset, tool in
            ToolCallPlan(
                id: "functions.\(tool.name):\(offset)", name: tool.name,
                arguments: ToolArguments.generate(parameters: tool.parameters, rng: &rng))
        }
    }

    /// Cuts the answer to the budget, reasoning first, then content, then tool arguments.
    private mutating func applyMaxTokens(_ maxTokens: Int?) {
        guard let budget = maxTokens else { return }
        if reasoningTokens >= budget {
            reasoningTokens = budget
            contentTokens = 0
            toolCalls = []
            finishReason = "length"
            return
        }
        var left = budget - reasoningTokens
        if contentTokens > left {
            contentTokens = left
            finishReason = "length"
        }
        left -= contentTokens
        var kept: [ToolCallPlan] = []
        for var call in toolCalls {
            let cost = ChatPlan.toolTokens(call)
            if cost <= left {
                left -= cost
                kept.append(call)
                continue
            }
            if left > 1 {
                call.arguments = String(call.arguments.prefix((left - 1) * 4))
                kept.append(call)
            }
            finishReason = "length"
            break
        }
        toolCalls = kept
    }

    /// Completion tokens when the whole plan has been emitted (not used for `huge`, which counts as it goes).
    var plannedCompletionTokens: Int {
        reasoningTokens + contentTokens + toolCalls.reduce(0) { $0 + ChatPlan.toolTokens($1) }
    }
}
