/// Merges the `chat.completion.chunk` objects of one stream into the `chat.completion` a non-stream call returns.
///
/// The result:
/// - `object` is `"chat.completion"`; `id`, `created`, `model`, `system_fingerprint` and any other top-level
///   member keep their last non-null value (a non-empty string beats an empty one). Member order: `id`, `object`,
///   `created`, `model`, `choices`, `usage`, then the others in first-seen order.
/// - `choices` are in `index` order, each `{index, message, [logprobs], finish_reason, …}`: `message` (from the
///   deltas) has `role` first (`"assistant"` if none came), `content` (null if none came), `reasoning_content`
///   and `refusal` concatenated, `tool_calls` merged by their `index` (id/type/name kept, `arguments` fragments
///   joined, `index` removed, in index order), other delta members last-non-null; `finish_reason` is the last
///   non-null one; array members of `logprobs` (`content`, `refusal`) have their items appended.
/// - `usage` is the last top-level `usage` object; if none came, the per-choice `choices[i].usage` objects
///   (Moonshot's placement) are hoisted: the lowest index's usage, plus every other choice's `completion_tokens`
///   added to `completion_tokens` and `total_tokens` (prompt tokens are shared by the choices, counted once).
///
/// - Stream-only members are dropped: OpenAI's per-chunk `obfuscation` padding.
///
/// Cost: `add` is O(size of the chunk) amortised (text is appended, nothing already merged is revisited);
/// `result()` is O(size of the result). `[DONE]` and non-object chunks are ignored.
public struct CompletionMerger: Sendable {
    /// Number of chunk objects merged so far.
    public internal(set) var chunkCount = 0
    var top = JSONObject()
    var topUsage: JSONValue?
    var choices: [ChoiceAccumulator] = []
    var choicePositions: [Int: Int] = [:]
    /// Raw JSON of the last value each top-level member got through the byte path: an equal value (every chunk
    /// repeats `id`, `created`, `model`) is skipped without being parsed. Cleared by the `JSONValue` path.
    var topRaw: [(key: [UInt8], raw: [UInt8])] = []
    /// Reused storage of the byte path (member and element ranges; key ranges while validating).
    var ranges: [(key: Range<Int>, value: Range<Int>)] = []
    var keyScratch: [Range<Int>] = []
    /// The byte path's value-end table (see `JSONScan.ends`), reused across chunks.
    var endTable: [Int32] = []
    /// Reused storage of the one-pass path (see `addFast`).
    var fastOps: [FastOp] = []
    var fastChoices: [FastChoice] = []
    /// The bytes of the last fast-scanned chunk up to its `choices` array, and the members they held (see
    /// `scanFastChunk`); cleared whenever `topRaw` changes.
    var fastPrefix: [UInt8] = []
    var fastPrefixSeen: UInt8 = 0
    var fastPrefixSeenRaw: UInt64 = 0
    /// The top-level `usage` object of the chunk the fast pass is scanning (nil: none, or null).
    var fastTopUsage: Range<Int>?
    /// The last chunk the fast pass took that held one text of one choice, and where that text's literal is
    /// (`shapeTextStart` 0: none); see `sameShape`.
    var shapeBytes: [UInt8] = []
    var shapeTextStart = 0
    var shapeTextEnd = 0
    var shapeOp = FastOp(kind: .content, start: 0, end: 0, escaped: false, toolIndex: -1)
    var shapeChoice = FastChoice(at: 0, index: 0, opsEnd: 1, logprobsNull: false)

    public init() {}

    /// The merged value of a top-level member (`id`, `created`, `model`, …) so far.
    public func topMember(_ key: String) -> JSONValue? { top[key] }

    /// Whether no chunk has been merged yet.
    public var isEmpty: Bool { chunkCount == 0 }

    /// Merges one chunk object.
    public mutating func add(chunk: JSONValue) {
        guard case .object(let object) = chunk else { return }
        chunkCount += 1
        topRaw.removeAll()
        fastPrefix.removeAll()
        forgetShape()
        for (key, value) in object {
            switch key {
            case "choices":
                guard case .array(let items) = value else { continue }
                for (position, item) in items.enumerated() {
                    guard case .object(let choice) = item else { continue }
                    let index = choice["index"]?.intValue ?? position
                    let at = choicePosition(index, indexValue: choice["index"])
                    choices[at].add(choice)
                }
            case "usage":
                if case .object = value { topUsage = value }
            case "object", "obfuscation":
                continue   // `object` is rewritten; `obfuscation` is OpenAI's per-chunk stream padding
            default:
                top.mergeLastNonNull(key, value)
            }
        }
    }

    /// The position in `choices` of the choice with `index`, created if new.
    mutating func choicePosition(_ index: Int, indexValue: @autoclosure () -> JSONValue?) -> Int {
        if choices.count <= 4 {
            for at in choices.indices where choices[at].index == index { return at }
        } else if let at = choicePositions[index] {
            return at
        }
        choicePositions[index] = choices.count
        choices.append(ChoiceAccumulator(index: index, indexValue: indexValue() ?? .number(index)))
        return choices.count - 1
    }

    /// Merges the `data` of one SSE event: `[DONE]` is ignored, anything else must be a JSON chunk.
    public mutating func add(sseData: String) throws(JSONError) {
        if sseData.utf8.count <= 16, SSEEvent(data: sseData).isDone { return }
        var text = sseData
        let outcome = text.withUTF8 { bytes in Result { () throws(JSONError) in try add(json: bytes) } }
        try outcome.get()
    }

    /// Merges one chunk given as JSON text (the same result as `add(chunk: JSONValue.parse(bytes))`, without
    /// building the tree when the chunk has the usual shape: see `add(streamChunk:)`).
    public mutating func add(json bytes: UnsafeBufferPointer<UInt8>) throws(JSONError) {
        if addFast(bytes, onChoice: { _, _ in }, onText: { _, _, _ in }) != nil { return }
        var table: [Int32] = []
        swap(&table, &endTable)   // moved out: the merge below changes `self` while the table is in use
        defer { swap(&table, &endTable) }
        let merged = JSONScan.withScan(bytes, table: &table) { scan in
            guard scan.validate(keyScratch: &keyScratch) else { return false }
            var ignored = false
            _ = addScanned(scan, requireChoices: false, hasOutput: &ignored, onChoice: { _, _ in }, onText: { _, _, _ in })
            return true
        }
        if !merged { add(chunk: try JSONValue.parse(bytes)) }
    }

    /// Merges an SSE event: events without data and `[DONE]` are ignored.
    public mutating func add(event: SSEEvent) throws(JSONError) {
        guard event.hasData, !event.isDone else { return }
        try add(sseData: event.data)
    }

    /// The merged `chat.completion` so far (callable at any time, e.g. for a stream cut short).
    public func result() -> JSONValue {
        var out = JSONObject()
        for key in ["id", "object", "created", "model"] {
            if key == "object" { out.set("object", "chat.completion") } else if let v = top[key] { out.set(key, v) }
        }
        let ordered = choices.sorted { $0.index < $1.index }
        out.set("choices", .array(ordered.map { .object($0.result()) }))
        if let usage = topUsage ?? Self.hoistedUsage(ordered.compactMap { $0.usage }) { out.set("usage", usage) }
        for (key, value) in top where !out.contains(key) { out.set(key, value) }
        return .object(out)
    }

    /// Moonshot's per-choice usage folded into one: prompt tokens once, completion tokens summed.
    static func hoistedUsage(_ usages: [JSONValue]) -> JSONValue? {
        guard case .object(var merged)? = usages.first else { return nil }
        for case .object(let other) in usages.dropFirst() {
            guard let extra = other["completion_tokens"]?.intValue else { continue }
            for key in ["completion_tokens", "total_tokens"] {
                if let n = merged[key]?.intValue { merged.set(key, .number(n + extra)) }
            }
        }
        return .object(merged)
    }
}

extension JSONObject {
    /// Merge rule for members without special meaning: a non-null value replaces, except that an empty string
    /// does not replace a non-empty one; `null` only fills a member that is absent.
    mutating func mergeLastNonNull(_ key: String, _ value: JSONValue) {
        switch value {
        case .null:
            if !contains(key) { appendNew(key, .null) }
        case .string(let s) where s.isEmpty:
            if case .string(let old)? = self[key], !old.isEmpty { return }
            set(key, value)
        default:
            set(key, value)
        }
    }
}
