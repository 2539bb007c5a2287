import Synchronization

/// Memoizes the JSON text of non-stream choices. Content is a pure function of the `ChoicePlan`, so a repeated
/// request (the common case in proxy benchmarks and test loops) skips regenerating and re-escaping it.
///
/// Invariants: the key covers every plan field that shapes the text (the seed already covers the request's
/// model, messages, tools and choice index); ids, `created` and usage are never cached. Bounded: at most
/// `capacity` entries of at most `maxEntryBytes` each; when full it starts over (no LRU bookkeeping on the hot path).
final class MessageCache: Sendable {
    struct Entry: Sendable {
        var json: String
        var tokens: Int
    }

    static let shared = MessageCache()
    let capacity = 512
    let maxEntryBytes = 16 << 10
    private let entries = Mutex<[UInt64: Entry]>([:])

    static func key(_ plan: ChoicePlan) -> UInt64 {
        var hash = StableHash(plan.seed)
        hash.mix(UInt64(plan.index))
        hash.mix(UInt64(plan.reasoningTokens))
        hash.mix(UInt64(plan.contentTokens))
        hash.mix(UInt64(plan.loopAfter.map { $0 + 1 } ?? 0))
        hash.mix(plan.finishReason)
        hash.mix(UInt64(plan.skipTokens))
        hash.mix(UInt64(plan.jsonFragments.map { $0.count + 1 } ?? 0))
        for call in plan.toolCalls {
            hash.mix(call.name)
            hash.mix(call.arguments)
        }
        return hash.value
    }

    /// The cached choice text, or the result of `make` (stored when small enough).
    func message(for plan: ChoicePlan, make: () -> Entry) -> Entry {
        let key = Self.key(plan)
        if let hit = entries.withLock({ $0[key] }) { return hit }
        let entry = make()
        if entry.json.utf8.count <= maxEntryBytes {
            entries.withLock {
                if $0.count >= capacity { $0.removeAll(keepingCapacity: true) }
                $0[key] = entry
            }
        }
        return entry
    }
}
