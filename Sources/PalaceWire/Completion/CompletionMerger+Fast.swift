#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one-pass path of `CompletionMerger` for the chunks that make up almost all of a stream: a text delta of a
/// choice the merger already has, e.g.
/// `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}`.
///
/// One pass over the chunk validates it (exactly as `JSONParser` would: strings, escapes, UTF-8, numbers,
/// structure, nothing after the value) and notes where its texts are; no `JSONValue`, no member table, no
/// `String`. Only when the whole chunk is valid and of the shape below are the notes applied (texts decoded
/// straight from the chunk into the choice's bytes, escape-free runs copied whole), so a chunk either merges
/// completely or not at all. Anything else — the first chunk of a choice, a `role`, a finish reason, usage, a
/// new top-level value, a tool call's `id`/`name`, an unknown member, a duplicate or escaped key, invalid JSON —
/// returns nil having changed nothing, and the chunk takes the general byte path (`addScanned`), which gives the
/// same result as the `JSONValue` path for every chunk. The fast path therefore has to agree with that path only
/// on the chunks it accepts:
/// - top level: an object whose members are `choices`, `object`/`obfuscation` (strings, ignored), `usage` (an
///   object, or null: ignored) and members whose raw JSON equals the one the previous chunk gave them (`id`,
///   `created`, `model`, …: no change, see `mergeTop`);
/// - `choices`: an array (empty: the usage-only chunk that ends an OpenAI stream) of objects with `index` (a plain
///   integer of a choice already merged; absent: the position), `delta` (object), `finish_reason` (null, or a
///   string without escapes: the chunk that finishes a choice), `usage` (object or null, Moonshot's placement),
///   `logprobs: null`;
/// - `delta`: `content`/`reasoning_content` (string or null), `role` equal to the merged one, `tool_calls` (a
///   non-empty array of objects with `index` and `function: {arguments: string}`).
extension CompletionMerger {
    /// One member of a delta noted by the fast pass, applied in order once the chunk is known to be good.
    struct FastOp: Sendable {
        enum Kind: UInt8, Sendable { case content, reasoning, contentNull, reasoningNull, toolCalls, toolCall }
        var kind: Kind
        /// String literal without its quotes (texts, tool-call arguments; empty range: none).
        var start: Int
        var end: Int
        var escaped: Bool
        /// A tool call's `index` (-1: absent).
        var toolIndex: Int
    }

    /// One choice of a fast chunk: its position in `choices`, its `index`, where its ops end; its finish reason
    /// (the string's bytes without quotes) and usage object, when it has them.
    struct FastChoice: Sendable {
        var at: Int
        var index: Int
        var opsEnd: Int
        var logprobsNull: Bool
        var finishReason: Range<Int>?
        var usage: Range<Int>?
    }

    /// Merges `data` on the fast path and returns `hasOutput`, or returns nil having changed nothing.
    mutating func addFast(_ data: UnsafeBufferPointer<UInt8>, onChoice: (Int, Bool) -> Void,
                          onText: (Int, Bool, UnsafeBufferPointer<UInt8>) -> Void) -> Bool? {
        guard !choices.isEmpty, data.count < Int(Int32.max) else { return nil }
        fastOps.removeAll(keepingCapacity: true)
        fastChoices.removeAll(keepingCapacity: true)
        fastTopUsage = nil
        if !sameShape(data) {
            guard scanFastChunk(data) else { return nil }
            noteShape(data)
        }
        chunkCount += 1
        if let usage = fastTopUsage { topUsage = Self.parsed(data, usage) }
        var hasOutput = false
        var op = 0
        for c in 0..<fastChoices.count {
            let choice = fastChoices[c]
            let at = choice.at
            while op < choice.opsEnd {
                let o = fastOps[op]
                op += 1
                switch o.kind {
                case .content, .reasoning:
                    let reasoning = o.kind == .reasoning
                    let field: MessageAccumulator.TextField = reasoning ? .reasoning : .content
                    choices[at].message.note(reasoning ? "reasoning_content" : "content",
                                             bit: reasoning ? MessageAccumulator.reasoningBit : MessageAccumulator.contentBit)
                    let from = choices[at].message.appendText(field) { Self.appendDecoded(data, o, to: &$0) }
                    guard o.end > o.start else { continue }
                    hasOutput = true
                    if reasoning {
                        choices[at].message.reasoning!.withUnsafeBufferPointer { onText(choice.index, true, UnsafeBufferPointer(rebasing: $0[from...])) }
                    } else {
                        choices[at].message.content!.withUnsafeBufferPointer { onText(choice.index, false, UnsafeBufferPointer(rebasing: $0[from...])) }
                    }
                case .contentNull:
                    choices[at].message.note("content", bit: MessageAccumulator.contentBit)
                    choices[at].message.others.mergeLastNonNull("content", .null)
                case .reasoningNull:
                    choices[at].message.note("reasoning_content", bit: MessageAccumulator.reasoningBit)
                    choices[at].message.others.mergeLastNonNull("reasoning_content", .null)
                case .toolCalls:
                    choices[at].message.note("tool_calls", bit: MessageAccumulator.toolCallsBit)
                case .toolCall:
                    let callIndex = choices[at].message.toolCallIndex(index: o.toolIndex >= 0 ? o.toolIndex : nil, id: nil)
                    let position = choices[at].message.toolCallPosition(callIndex)
                    guard o.end > o.start else { continue }
                    hasOutput = true
                    Self.appendDecoded(data, o, to: &choices[at].message.toolCalls[position].arguments)
                }
            }
            if choice.logprobsNull { choices[at].logprobsSeen = true }
            if let reason = choice.finishReason {
                choices[at].finishReason = .string(String(decoding: UnsafeBufferPointer(rebasing: data[reason]), as: UTF8.self))
            }
            if let usage = choice.usage { choices[at].usage = Self.parsed(data, usage) }
            onChoice(choice.index, choice.finishReason != nil)
        }
        return hasOutput
    }

    // MARK: - The same shape again

    /// Whether `data` is the last remembered chunk (`shapeBytes`) with another string in place of its one text:
    /// the same bytes up to that string's opening quote and from its closing quote on, and a valid string between
    /// (the usual stream: each chunk repeats the previous one but for its token). Such a chunk is valid JSON of
    /// the same shape, so it merges exactly as the remembered one did, with its own text: the op and choice are
    /// set up for `addFast`'s application without reading any key. The remembered chunk stays valid as long as
    /// only the fast path merges (it never changes the state the pass checks — top-level values, choices, roles);
    /// any other merge forgets it (`forgetShape`).
    @inline(__always)
    private mutating func sameShape(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = shapeTextStart
        guard start > 0, let base = b.baseAddress else { return false }
        let tail = shapeBytes.count - shapeTextEnd   // closing quote and the rest
        let n = b.count
        guard n >= start + tail,
              shapeBytes.withUnsafeBufferPointer({ memcmp($0.baseAddress!, base, start) == 0 }) else { return false }
        var pos = start - 1
        guard let escaped = Self.string(b, &pos), n - (pos - 1) == tail,
              shapeBytes.withUnsafeBufferPointer({ memcmp($0.baseAddress! + shapeTextEnd, base + pos - 1, tail) == 0 })
        else { return false }
        var op = shapeOp
        op.end = pos - 1
        op.escaped = escaped
        fastOps.append(op)
        fastChoices.append(shapeChoice)
        return true
    }

    /// After a chunk the pass took: remembers it when it is one text of one choice and nothing else that merges
    /// (no finish reason, no usage), forgets the last one otherwise.
    private mutating func noteShape(_ b: UnsafeBufferPointer<UInt8>) {
        guard fastChoices.count == 1, fastOps.count == 1, fastTopUsage == nil, fastChoices[0].finishReason == nil,
              fastChoices[0].usage == nil, fastOps[0].kind == .content || fastOps[0].kind == .reasoning else {
            forgetShape()
            return
        }
        shapeBytes.removeAll(keepingCapacity: true)
        shapeBytes.append(contentsOf: b)
        shapeOp = fastOps[0]
        shapeChoice = fastChoices[0]
        shapeTextStart = shapeOp.start
        shapeTextEnd = shapeOp.end
    }

    /// Forgets the remembered chunk (a merge outside the fast path may change what the pass would accept).
    @inline(__always)
    mutating func forgetShape() {
        shapeTextStart = 0
    }

    /// The (validated) value in `range` as a `JSONValue`.
    static func parsed(_ data: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> JSONValue {
        (try? JSONValue.parse(UnsafeBufferPointer(rebasing: data[range]))) ?? .null
    }

    /// An object member's value that the fast path takes whole (`usage`): validated as the whole chunk's validation
    /// would at `depth`; `pos` ends after it. Returns its range for an object, an empty range for `null` (the
    /// general path ignores it), nil for anything else (not for the fast path).
    private mutating func objectOrNull(_ b: UnsafeBufferPointer<UInt8>, _ pos: inout Int, depth: Int) -> Range<Int>?? {
        guard pos < b.count else { return nil }
        if b[pos] == UInt8(ascii: "n") { return Self.null(b, &pos) ? .some(nil) : nil }
        guard b[pos] == UInt8(ascii: "{") else { return nil }
        let start = pos
        guard JSONScan(bytes: b).validateValue(at: &pos, depth: depth, keyScratch: &keyScratch) else { return nil }
        return .some(start..<pos)
    }

    @inline(__always)
    static func appendDecoded(_ data: UnsafeBufferPointer<UInt8>, _ o: FastOp, to out: inout [UInt8]) {
        guard o.end > o.start else { return }
        if o.escaped {
            JSONScan(bytes: data).appendString((o.start - 1)..<(o.end + 1), to: &out)
        } else {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: data[o.start..<o.end]))
        }
    }

    // MARK: - The pass

    /// Validates `b` and notes its ops; false (ops to be ignored) when `b` is not for the fast path.
    private mutating func scanFastChunk(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = b.count
        var pos = 0
        var seen: UInt8 = 0          // choices 1, object 2, obfuscation 4, usage 8
        var seenRaw: UInt64 = 0      // topRaw entries matched
        // The usual chunk repeats the previous one's bytes up to its `choices` array: compared whole, not re-read.
        var atChoices = false
        let prefix = fastPrefix.count
        if prefix > 0, n > prefix, let base = b.baseAddress,
           fastPrefix.withUnsafeBufferPointer({ memcmp($0.baseAddress!, base, prefix) == 0 }) {
            pos = prefix
            seen = fastPrefixSeen
            seenRaw = fastPrefixSeenRaw
            atChoices = true
        } else {
            pos = Self.ws(b, 0)
            guard pos < n, b[pos] == UInt8(ascii: "{") else { return false }
            pos = Self.ws(b, pos + 1)
        }
        while true {
            if atChoices {
                atChoices = false
                seen |= 1
                guard b[pos] == UInt8(ascii: "["), scanChoices(b, &pos) else { return false }
            } else {
                guard let key = Self.key(b, &pos) else { return false }
                if Self.eq(b, key, "choices") {
                    guard seen & 1 == 0, pos < n, b[pos] == UInt8(ascii: "[") else { return false }
                    // Everything before is valid and changes nothing (ignored, or equal to `topRaw`): remembered —
                    // unless it holds a `usage`, which sets `topUsage` each time (so it is read every time).
                    fastPrefix.removeAll(keepingCapacity: true)
                    if seen & 8 == 0 { fastPrefix.append(contentsOf: UnsafeBufferPointer(rebasing: b[0..<pos])) }
                    fastPrefixSeen = seen
                    fastPrefixSeenRaw = seenRaw
                    seen |= 1
                    guard scanChoices(b, &pos) else { return false }
                } else if Self.eq(b, key, "object") || Self.eq(b, key, "obfuscation") {
                    let bit: UInt8 = key.count == 6 ? 2 : 4
                    guard seen & bit == 0, pos < n, b[pos] == UInt8(ascii: "\""), Self.string(b, &pos) != nil else { return false }
                    seen |= bit
                } else if Self.eq(b, key, "usage") {
                    guard seen & 8 == 0, let usage = objectOrNull(b, &pos, depth: 1) else { return false }
                    seen |= 8
                    fastTopUsage = usage
                } else {
                    // Skipped only when it repeats the last value given for it (then merging it changes nothing).
                    var slot = -1
                    for i in topRaw.indices where i < 64 && Self.same(topRaw[i].key, UnsafeBufferPointer(rebasing: b[key])) {
                        slot = i
                        break
                    }
                    guard slot >= 0, seenRaw & (1 << UInt64(slot)) == 0 else { return false }
                    seenRaw |= 1 << UInt64(slot)
                    let matched = topRaw[slot].raw.withUnsafeBufferPointer { raw -> Bool in
                        guard n - pos >= raw.count else { return false }
                        for i in 0..<raw.count where raw[i] != b[pos + i] { return false }
                        return true
                    }
                    guard matched else { return false }
                    pos += topRaw[slot].raw.count
                }
            }
            pos = Self.ws(b, pos)
            guard pos < n else { return false }
            if b[pos] == UInt8(ascii: ",") { pos = Self.ws(b, pos + 1); continue }
            guard b[pos] == UInt8(ascii: "}") else { return false }
            pos = Self.ws(b, pos + 1)
            break
        }
        return pos == n && seen & 1 != 0
    }

    private mutating func scanChoices(_ b: UnsafeBufferPointer<UInt8>, _ pos: inout Int) -> Bool {
        let n = b.count
        pos = Self.ws(b, pos + 1)
        if pos < n, b[pos] == UInt8(ascii: "]") { pos += 1; return true }
        var position = 0
        while true {
            guard pos < n, b[pos] == UInt8(ascii: "{"), scanChoice(b, &pos, position: position) else { return false }
            position += 1
            pos = Self.ws(b, pos)
            guard pos < n else { return false }
            if b[pos] == UInt8(ascii: ",") { pos = Self.ws(b, pos + 1); continue }
            guard b[pos] == UInt8(ascii: "]") else { return false }
            pos += 1
            return true
        }
    }

    private mutating func scanChoice(_ b: UnsafeBufferPointer<UInt8>, _ pos: inout Int, position: Int) -> Bool {
        let n = b.count
        pos = Self.ws(b, pos + 1)
        var seen: UInt8 = 0   // index 1, delta 2, finish_reason 4, logprobs 8, usage 16
        var index = position
        var logprobsNull = false
        var finishReason: Range<Int>?
        var usage: Range<Int>?
        while true {
            guard let key = Self.key(b, &pos), pos < n else { return false }
            if Self.eq(b, key, "index") {
                guard seen & 1 == 0, let i = Self.plainInt(b, &pos) else { return false }
                seen |= 1
                index = i
            } else if Self.eq(b, key, "delta") {
                guard seen & 2 == 0, b[pos] == UInt8(ascii: "{"), scanDelta(b, &pos) else { return false }
                seen |= 2
            } else if Self.eq(b, key, "finish_reason") {
                guard seen & 4 == 0 else { return false }
                seen |= 4
                if b[pos] == UInt8(ascii: "\"") {
                    let start = pos + 1
                    guard let escaped = Self.string(b, &pos), !escaped else { return false }
                    finishReason = start..<(pos - 1)
                } else {
                    guard Self.null(b, &pos) else { return false }
                }
            } else if Self.eq(b, key, "usage") {
                guard seen & 16 == 0, let value = objectOrNull(b, &pos, depth: 3) else { return false }
                seen |= 16
                usage = value
            } else if Self.eq(b, key, "logprobs") {
                guard seen & 8 == 0, Self.null(b, &pos) else { return false }
                seen |= 8
                logprobsNull = true
            } else {
                return false
            }
            pos = Self.ws(b, pos)
            guard pos < n else { return false }
            if b[pos] == UInt8(ascii: ",") { pos = Self.ws(b, pos + 1); continue }
            guard b[pos] == UInt8(ascii: "}") else { return false }
            pos += 1
            break
        }
        // Only a choice the merger already has (a new one goes through `choicePosition` on the general path).
        var at = -1
        if choices.count <= 4 {
            for i in choices.indices where choices[i].index == index { at = i; break }
        } else if let i = choicePositions[index] {
            at = i
        }
        guard at >= 0 else { return false }
        fastChoices.append(FastChoice(at: at, index: index, opsEnd: fastOps.count, logprobsNull: logprobsNull,
                                      finishReason: finishReason, usage: usage))
        return true
    }

    private mutating func scanDelta(_ b: UnsafeBufferPointer<UInt8>, _ pos: inout Int) -> Bool {
        let n = b.count
        pos = Self.ws(b, pos + 1)
        guard pos < n else { return false }
        if b[pos] == UInt8(ascii: "}") { pos += 1; return true }
        var seen: UInt8 = 0   // content 1, reasoning_content 2, tool_calls 4, role 8
        while true {
            guard let key = Self.key(b, &pos), pos < n else { return false }
            if Self.eq(b, key, "content") || Self.eq(b, key, "reasoning_content") {
                let reasoning = key.count != 7
                let bit: UInt8 = reasoning ? 2 : 1
                guard seen & bit == 0 else { return false }
                seen |= bit
                if b[pos] == UInt8(ascii: "\"") {
                    let start = pos + 1
                    guard let escaped = Self.string(b, &pos) else { return false }
                    fastOps.append(FastOp(kind: reasoning ? .reasoning : .content, start: start, end: pos - 1,
                                          escaped: escaped, toolIndex: -1))
                } else {
                    guard Self.null(b, &pos) else { return false }
                    fastOps.append(FastOp(kind: reasoning ? .reasoningNull : .contentNull, start: 0, end: 0,
                                          escaped: false, toolIndex: -1))
                }
            } else if Self.eq(b, key, "role") {
                // Only the role already merged (then the member changes nothing: it was noted with it).
                guard seen & 8 == 0, b[pos] == UInt8(ascii: "\""), case .string(let role)? = fastRole else { return false }
                seen |= 8
                let start = pos + 1
                guard let escaped = Self.string(b, &pos), !escaped, pos - 1 > start else { return false }
                guard role.utf8.elementsEqual(UnsafeBufferPointer(rebasing: b[start..<(pos - 1)])) else { return false }
            } else if Self.eq(b, key, "tool_calls") {
                guard seen & 4 == 0, b[pos] == UInt8(ascii: "[") else { return false }
                seen |= 4
                fastOps.append(FastOp(kind: .toolCalls, start: 0, end: 0, escaped: false, toolIndex: -1))
                pos = Self.ws(b, pos + 1)
                while true {
                    guard pos < n, b[pos] == UInt8(ascii: "{"), scanToolCall(b, &pos) else { return false }
                    pos = Self.ws(b, pos)
                    guard pos < n else { return false }
                    if b[pos] == UInt8(ascii: ",") { pos = Self.ws(b, pos + 1); continue }
                    guard b[pos] == UInt8(ascii: "]") else { return false }
                    pos += 1
                    break
                }
            } else {
                return false
            }
            pos = Self.ws(b, pos)
            guard pos < n else { return false }
            if b[pos] == UInt8(ascii: ",") { pos = Self.ws(b, pos + 1); continue }
            guard b[pos] == UInt8(ascii: "}") else { return false }
            pos += 1
            return true
        }
    }

    /// The role of the choice being scanned is checked against the one merged; the scan does not know the choice
    /// yet (its `index` may come after `delta`), so only a stream whose choices all have the same role qualifies.
    private var fastRole: JSONValue? {
        guard let first = choices.first?.message.role else { return nil }
        for c in choices.dropFirst() where c.message.role != first { return nil }
        return first
    }

    private mutating func scanToolCall(_ b: UnsafeBufferPointer<UInt8>, _ pos: inout Int) -> Bool {
        let n = b.count
        pos = Self.ws(b, pos + 1)
        guard pos < n, b[pos] != UInt8(ascii: "}") else { return false }
        var seen: UInt8 = 0   // index 1, function 2
        var op = FastOp(kind: .toolCall, start: 0, end: 0, escaped: false, toolIndex: -1)
        while true {
            guard let key = Self.key(b, &pos), pos < n else { return false }
            if Self.eq(b, key, "index") {
                guard seen & 1 == 0, let i = Self.plainInt(b, &pos) else { return false }
                seen |= 1
                op.toolIndex = i
            } else if Self.eq(b, key, "function") {
                guard seen & 2 == 0, b[pos] == UInt8(ascii: "{") else { return false }
                seen |= 2
                pos = Self.ws(b, pos + 1)
                guard let fkey = Self.key(b, &pos), Self.eq(b, fkey, "arguments"), pos < n,
                      b[pos] == UInt8(ascii: "\"") else { return false }
                op.start = pos + 1
                guard let escaped = Self.string(b, &pos) else { return false }
                op.end = pos - 1
                op.escaped = escaped
                pos = Self.ws(b, pos)
                guard pos < n, b[pos] == UInt8(ascii: "}") else { return false }
                pos += 1
            } else {
                return false
            }
            pos = Self.ws(b, pos)
            guard pos < n else { return false }
            if b[pos] == UInt8(ascii: ",") { pos = Self.ws(b, pos + 1); continue }
            guard b[pos] == UInt8(ascii: "}") else { return false }
            pos += 1
            fastOps.append(op)   // an absent index continues the last call (`toolCallIndex`, no id)
            return true
        }
    }

    // MARK: - Lexical helpers (all validate exactly as `JSONParser`)

    @inline(__always)
    static func ws(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var pos = start
        while pos < b.count {
            switch b[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return pos
            }
        }
        return pos
    }

    /// A key (plain ASCII, no escape) and its colon; `pos` ends at the value. nil: not for the fast path.
    @inline(__always)
    static func key(_ b: UnsafeBufferPointer<UInt8>, _ pos: inout Int) -> Range<Int>? {
        guard pos < b.count, b[pos] == UInt8(ascii: "\"") else { return nil }
        let start = pos + 1
        var i = start
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                pos = ws(b, i + 1)
                guard pos < b.count, b[pos] == UInt8(ascii: ":") else { return nil }
                pos = ws(b, pos + 1)
                return start..<i
            }
            guard c >= 0x20, c < 0x80, c != UInt8(ascii: "\\") else { return nil }
            i += 1
        }
        return nil
    }

    @inline(__always)
    static func eq(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ word: StaticString) -> Bool {
        guard range.count == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for i in 0..<range.count where b[range.lowerBound + i] != w[i] { return false }
        return true
    }

    /// A string literal starting at `pos` (its opening quote), validated as `JSONParser` does (no raw control
    /// characters, valid escapes, valid UTF-8); `pos` ends after the closing quote. Returns whether it has escapes.
    @inline(__always)
    static func string(_ b: UnsafeBufferPointer<UInt8>, _ pos: inout Int) -> Bool? {
        let n = b.count
        let start = pos + 1
        var i = start
        var escaped = false
        var ascii = true
        guard let base = b.baseAddress else { return nil }
        while i < n {
            if i + 8 <= n {
                let v = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if v & 0x8080_8080_8080_8080 == 0, !JSONWriter.hasSpecial(v) { i += 8; continue }
            }
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                if !ascii, !JSONScan.validUTF8(UnsafeBufferPointer(rebasing: b[start..<i])) { return nil }
                pos = i + 1
                return escaped
            }
            if c == UInt8(ascii: "\\") {
                escaped = true
                guard i + 1 < n else { return nil }
                switch b[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    guard n - i >= 6 else { return nil }
                    for k in 2..<6 {
                        let h = b[i + k]
                        guard h &- UInt8(ascii: "0") < 10 || (h | 0x20) &- UInt8(ascii: "a") < 6 else { return nil }
                    }
                    i += 6
                default:
                    return nil
                }
                continue
            }
            if c < 0x20 { return nil }
            if c >= 0x80 { ascii = false }
            i += 1
        }
        return nil
    }

    /// `null`.
    @inline(__always)
    static func null(_ b: UnsafeBufferPointer<UInt8>, _ pos: inout Int) -> Bool {
        guard b.count - pos >= 4, b[pos] == UInt8(ascii: "n"), b[pos + 1] == UInt8(ascii: "u"),
              b[pos + 2] == UInt8(ascii: "l"), b[pos + 3] == UInt8(ascii: "l") else { return false }
        pos += 4
        return true
    }

    /// `0` or `[1-9][0-9]*` (at most 18 digits) followed by a delimiter; anything else (signs, fractions,
    /// exponents, leading zeros) is left to the general path.
    @inline(__always)
    static func plainInt(_ b: UnsafeBufferPointer<UInt8>, _ pos: inout Int) -> Int? {
        var i = pos
        var value = 0
        while i < b.count, b[i] &- UInt8(ascii: "0") < 10, i - pos < 19 {
            value = value * 10 + Int(b[i] &- UInt8(ascii: "0"))
            i += 1
        }
        let digits = i - pos
        guard digits > 0, digits <= 18, !(digits > 1 && b[pos] == UInt8(ascii: "0")), i < b.count else { return nil }
        switch b[i] {
        case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09: break
        default: return nil
        }
        pos = i
        return value
    }
}
