/// An endless, seeded source of mixed Chinese/English tokens (one pool entry or punctuation mark per token).
///
/// Invariants: the sequence depends only on the seed (and `loopAfter`); it is not periodic, except that with
/// `loopAfter = k` every token after the first `k` repeats one fixed phrase forever (the `repeat` scenario).
struct TextGenerator: Sendable {
    private var rng: SeededRandom
    private var queue: [String] = []
    private var queueIndex = 0
    private var atLineStart = true
    private var emitted = 0
    private let loopAfter: Int?
    private let loop: [String]

    init(seed: UInt64, loopAfter: Int? = nil) {
        rng = SeededRandom(seed: seed)
        self.loopAfter = loopAfter
        var pickRNG = SeededRandom(seed: seed ^ 0x5EED)
        loop = pickRNG.pick(WordPools.loops)
    }

    /// The next token. Never empty.
    mutating func next() -> String {
        defer { emitted += 1 }
        if let loopAfter, emitted >= loopAfter {
            return loop[(emitted - loopAfter) % loop.count]
        }
        if queueIndex >= queue.count {
            queue.removeAll(keepingCapacity: true)
            queueIndex = 0
            fillSentence()
        }
        let token = queue[queueIndex]
        queueIndex += 1
        return token
    }

    /// Concatenates the next `count` tokens.
    mutating func text(tokens count: Int) -> String {
        var out = ""
        for _ in 0..<count { out += next() }
        return out
    }

    private mutating func fillSentence() {
        if rng.chance(55) { chineseSentence() } else { englishSentence() }
        if rng.chance(18) {
            queue.append("\n\n")
            atLineStart = true
        }
    }

    private mutating func chineseSentence() {
        let words = rng.within(5...14)
        for index in 0..<words {
            if rng.chance(12) {
                queue.append((atLineStart ? "" : " ") + rng.pick(WordPools.terms) + " ")
            } else {
                queue.append(rng.pick(WordPools.chinese))
            }
            atLineStart = false
            if index > 1 && index < words - 2 && rng.chance(12) { queue.append("，") }
        }
        queue.append(rng.pick(["。", "。", "。", "！", "？", "；"]))
    }

    private mutating func englishSentence() {
        let words = rng.within(6...16)
        for index in 0..<words {
            let word = index == 0 ? rng.pick(WordPools.englishCapitalized) : rng.pick(WordPools.english)
            queue.append(atLineStart ? word : " " + word)
            atLineStart = false
            if index > 1 && index < words - 2 && rng.chance(10) { queue.append(",") }
        }
        queue.append(rng.pick([".", ".", ".", "!", "?", ":"]))
    }
}
