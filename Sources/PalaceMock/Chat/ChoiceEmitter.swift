/// One piece of a choice's output, in the order the real API streams them.
enum Delta: Sendable {
    case role
    case reasoning(String)
    case content(String)
    case toolStart(index: Int, id: String, name: String)
    case toolArguments(index: Int, String)
}

/// Walks a `ChoicePlan` lazily: role, then reasoning tokens, then content tokens, then tool-call fragments.
///
/// Invariants: content is generated on demand (a `huge` answer never sits in memory at once); `tokens` counts the
/// completion tokens emitted so far, which is the usage reported at the end.
struct ChoiceEmitter: Sendable {
    let plan: ChoicePlan
    private var text: TextGenerator
    private var reasoning: TextGenerator
    private var argumentRNG: SeededRandom
    private var phase = Phase.role
    private var emittedReasoning = 0
    private var emittedContent = 0
    private var emittedBytes = 0
    private var toolIndex = 0
    private var fragments: [String] = []
    private var fragmentIndex = 0
    private(set) var tokens = 0

    private enum Phase { case role, reasoning, content, tools, done }

    /// Bytes of content per delta for `huge` answers.
    static let hugeChunkBytes = 16 << 10

    init(plan: ChoicePlan) {
        self.plan = plan
        text = TextGenerator(seed: plan.seed, loopAfter: plan.loopAfter)
        for _ in 0..<plan.skipTokens { _ = text.next() }   // partial mode: the client already has these
        reasoning = TextGenerator(seed: plan.seed ^ 0xA5A5_A5A5_5A5A_5A5A)
        argumentRNG = SeededRandom(seed: plan.seed ^ 0x7007)
    }

    mutating func next() -> Delta? {
        while true {
            switch phase {
            case .role:
                phase = .reasoning
                return .role
            case .reasoning:
                if emittedReasoning < plan.reasoningTokens {
                    emittedReasoning += 1
                    tokens += 1
                    return .reasoning(reasoning.next())
                }
                phase = .content
            case .content:
                if let delta = nextContent() { return delta }
                phase = .tools
            case .tools:
                if let delta = nextToolPiece() { return delta }
                phase = .done
            case .done:
                return nil
            }
        }
    }

    private mutating func nextContent() -> Delta? {
        if let limit = plan.hugeBytes {
            guard emittedBytes < limit else { return nil }
            var piece = ""
            while piece.utf8.count < Self.hugeChunkBytes && emittedBytes + piece.utf8.count < limit {
                piece += text.next()
                tokens += 1
            }
            emittedBytes += piece.utf8.count
            return .content(piece)
        }
        guard emittedContent < plan.contentTokens else { return nil }
        emittedContent += 1
        tokens += 1
        if let fragments = plan.jsonFragments { return .content(fragments[emittedContent - 1]) }
        return .content(text.next())
    }

    private mutating func nextToolPiece() -> Delta? {
        while toolIndex < plan.toolCalls.count {
            let call = plan.toolCalls[toolIndex]
            if fragmentIndex == 0 && fragments.isEmpty {
                fragments = ToolArguments.fragments(of: call.arguments, rng: &argumentRNG)
                tokens += ChatPlan.toolTokens(call)
                fragmentIndex = -1
                return .toolStart(index: toolIndex, id: call.id, name: call.name)
            }
            if fragmentIndex < 0 { fragmentIndex = 0 }
            if fragmentIndex < fragments.count {
                fragmentIndex += 1
                return .toolArguments(index: toolIndex, fragments[fragmentIndex - 1])
            }
            toolIndex += 1
            fragments = []
            fragmentIndex = 0
        }
        return nil
    }
}
