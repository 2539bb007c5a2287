/// The byte path of `CompletionMerger`: chunks are merged straight from their JSON text, and the result is written
/// straight to JSON text, with the same outcome as the `JSONValue` path (`add(chunk:)`, `result()`).
///
/// How: `JSONScan.validate` first checks the whole chunk (so a chunk the parser would reject changes nothing);
/// then the members are read in order. Text fragments (`content`, `reasoning_content`, `refusal`, tool-call
/// `arguments`) are decoded and appended in place to the choice's bytes; top-level members equal to the ones the
/// previous chunk carried (`id`, `created`, `model`, …) are compared as bytes and skipped; a value of any other
/// shape goes through `JSONValue` and the generic rules. A usual chunk costs no allocation once the buffers grew.
extension CompletionMerger {
    /// What `add(streamChunk:)` did with one SSE event's data.
    public enum StreamChunk: Sendable, Equatable {
        /// Merged (it has `choices`); `hasOutput` as `CompletionFacts.hasOutput` of that chunk.
        case merged(hasOutput: Bool)
        /// An object with an `error` member (Moonshot reports some failures inside the stream): not merged.
        case error(JSONValue)
        /// Valid JSON but no `choices` member (not a completion chunk): not merged.
        case notACompletionChunk
        /// Not JSON: not merged.
        case invalid
    }

    /// Merges one stream event's data if it is a completion chunk (an object with `choices` and without `error`).
    /// `onChoice(index, finished)` is called for every choice object of a merged chunk (`finished`: its
    /// `finish_reason` is not null); `onText(index, reasoning, utf8)` for every non-empty `content`
    /// (`reasoning == false`) or `reasoning_content` (`true`) fragment of its `delta`/`message`, decoded.
    public mutating func add(streamChunk data: UnsafeBufferPointer<UInt8>,
                             onChoice: (_ index: Int, _ finished: Bool) -> Void,
                             onText: (_ index: Int, _ reasoning: Bool, _ utf8: UnsafeBufferPointer<UInt8>) -> Void) -> StreamChunk {
        if let hasOutput = addFast(data, onChoice: onChoice, onText: onText) { return .merged(hasOutput: hasOutput) }
        var table: [Int32] = []
        swap(&table, &endTable)   // moved out: the merge below changes `self` while the table is in use
        let outcome: StreamChunk? = JSONScan.withScan(data, table: &table) { scan in
            guard scan.validate(keyScratch: &keyScratch) else { return nil }
            var hasOutput = false
            if let skipped = addScanned(scan, requireChoices: true, hasOutput: &hasOutput, onChoice: onChoice, onText: onText) {
                return skipped
            }
            return .merged(hasOutput: hasOutput)
        }
        swap(&table, &endTable)
        if let outcome { return outcome }
        // Not for the byte path (invalid, or duplicate/escaped keys): the parser decides, as it always did.
        guard let value = try? JSONValue.parse(data) else { return .invalid }
        if let error = value["error"] { return .error(error) }
        guard value["choices"] != nil else { return .notACompletionChunk }
        Self.observe(value, onChoice: onChoice, onText: onText)
        add(chunk: value)
        return .merged(hasOutput: CompletionFacts.of(value).hasOutput)
    }

    /// The observer calls of `add(streamChunk:)` for a chunk that took the `JSONValue` path.
    static func observe(_ value: JSONValue, onChoice: (Int, Bool) -> Void,
                        onText: (Int, Bool, UnsafeBufferPointer<UInt8>) -> Void) {
        guard case .array(let items)? = value["choices"] else { return }
        for (position, item) in items.enumerated() {
            guard case .object(let choice) = item else { continue }
            let index = choice["index"]?.intValue ?? position
            for key in ["delta", "message"] {
                guard case .object(let delta)? = choice[key] else { continue }
                for (field, reasoning) in [("content", false), ("reasoning_content", true)] {
                    guard case .string(var text)? = delta[field], !text.isEmpty else { continue }
                    text.withUTF8 { onText(index, reasoning, $0) }
                }
            }
            onChoice(index, choice["finish_reason"].map { !$0.isNull } ?? false)
        }
    }

    /// Merges a validated chunk. With `requireChoices`, returns without merging when the top level is not an
    /// object with `choices` and without `error` (the outcome says why); nil when merged.
    mutating func addScanned(_ scan: JSONScan, requireChoices: Bool, hasOutput: inout Bool,
                             onChoice: (Int, Bool) -> Void,
                             onText: (Int, Bool, UnsafeBufferPointer<UInt8>) -> Void) -> StreamChunk? {
        let start = scan.skipWhitespace(0)
        guard scan.bytes[start] == UInt8(ascii: "{") else { return requireChoices ? .notACompletionChunk : nil }
        ranges.removeAll(keepingCapacity: true)
        scan.members(start, into: &ranges)
        let memberCount = ranges.count
        if requireChoices {
            var hasChoices = false
            for i in 0..<memberCount {
                if scan.isKey(ranges[i].key, "error") { return .error(scan.value(ranges[i].value)) }
                if scan.isKey(ranges[i].key, "choices") { hasChoices = true }
            }
            guard hasChoices else { return .notACompletionChunk }
        }
        chunkCount += 1
        forgetShape()
        for i in 0..<memberCount {
            let (key, value) = ranges[i]
            let first = scan.bytes[value.lowerBound]
            if scan.isKey(key, "choices") {
                guard first == UInt8(ascii: "[") else { continue }
                let base = ranges.count
                scan.elementRanges(value.lowerBound, into: &ranges)
                let end = ranges.count
                for e in base..<end {
                    let element = ranges[e].value
                    guard scan.bytes[element.lowerBound] == UInt8(ascii: "{") else { continue }
                    addChoice(scan, element, position: e - base, hasOutput: &hasOutput, onChoice: onChoice, onText: onText)
                }
                ranges.removeLast(ranges.count - base)
            } else if scan.isKey(key, "usage") {
                if first == UInt8(ascii: "{") { topUsage = scan.value(value) }
            } else if scan.isKey(key, "object") || scan.isKey(key, "obfuscation") {
                continue
            } else {
                mergeTop(scan, key: key, value: value)
            }
        }
        return nil
    }

    /// A top-level member without special meaning: skipped when its raw JSON equals the last one given for it.
    private mutating func mergeTop(_ scan: JSONScan, key: Range<Int>, value: Range<Int>) {
        let keyBytes = UnsafeBufferPointer(rebasing: scan.bytes[key])
        let raw = UnsafeBufferPointer(rebasing: scan.bytes[value])
        var slot = -1
        for i in topRaw.indices where Self.same(topRaw[i].key, keyBytes) {
            if Self.same(topRaw[i].raw, raw) { return }
            slot = i
            break
        }
        fastPrefix.removeAll()
        if slot < 0 {
            topRaw.append((Array(keyBytes), Array(raw)))
        } else {
            topRaw[slot].raw.removeAll(keepingCapacity: true)
            topRaw[slot].raw.append(contentsOf: raw)
        }
        top.mergeLastNonNull(String(decoding: keyBytes, as: UTF8.self), scan.value(value))
    }

    @inline(__always)
    static func same(_ a: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBufferPointer { a in
            for i in 0..<a.count where a[i] != b[i] { return false }
            return true
        }
    }

    private mutating func addChoice(_ scan: JSONScan, _ object: Range<Int>, position: Int, hasOutput: inout Bool,
                                    onChoice: (Int, Bool) -> Void,
                                    onText: (Int, Bool, UnsafeBufferPointer<UInt8>) -> Void) {
        let base = ranges.count
        defer { ranges.removeLast(ranges.count - base) }
        scan.members(object.lowerBound, into: &ranges)
        let end = ranges.count
        var index = position
        var indexRange: Range<Int>?
        for i in base..<end where scan.isKey(ranges[i].key, "index") {
            indexRange = ranges[i].value
            index = scan.plainInt(ranges[i].value) ?? scan.value(ranges[i].value).intValue ?? position
        }
        let at = choicePosition(index, indexValue: indexRange.map { scan.value($0) })
        var finished = false
        for i in base..<end {
            let (key, value) = ranges[i]
            let first = scan.bytes[value.lowerBound]
            if scan.isKey(key, "index") { continue }
            if scan.isKey(key, "delta") || scan.isKey(key, "message") {
                if first == UInt8(ascii: "{") {
                    addMessage(scan, value, choice: at, index: index, hasOutput: &hasOutput, onText: onText)
                }
            } else if scan.isKey(key, "finish_reason") {
                if first != UInt8(ascii: "n") {
                    choices[at].finishReason = scan.value(value)
                    finished = true
                }
            } else if scan.isKey(key, "usage") {
                if first == UInt8(ascii: "{") { choices[at].usage = scan.value(value) }
            } else if scan.isKey(key, "logprobs") {
                if first == UInt8(ascii: "n") { choices[at].logprobsSeen = true } else { choices[at].addLogprobs(scan.value(value)) }
            } else {
                choices[at].extras.mergeLastNonNull(String(decoding: UnsafeBufferPointer(rebasing: scan.bytes[key]), as: UTF8.self),
                                                    scan.value(value))
            }
        }
        onChoice(index, finished)
    }

    private mutating func addMessage(_ scan: JSONScan, _ object: Range<Int>, choice at: Int, index: Int,
                                     hasOutput: inout Bool, onText: (Int, Bool, UnsafeBufferPointer<UInt8>) -> Void) {
        let base = ranges.count
        defer { ranges.removeLast(ranges.count - base) }
        scan.members(object.lowerBound, into: &ranges)
        let end = ranges.count
        for i in base..<end {
            let (key, value) = ranges[i]
            let first = scan.bytes[value.lowerBound]
            let keyText = { String(decoding: UnsafeBufferPointer(rebasing: scan.bytes[key]), as: UTF8.self) }
            let field: MessageAccumulator.TextField?
            let bit: UInt8
            if scan.isKey(key, "content") { field = .content; bit = MessageAccumulator.contentBit }
            else if scan.isKey(key, "reasoning_content") { field = .reasoning; bit = MessageAccumulator.reasoningBit }
            else if scan.isKey(key, "refusal") { field = .refusal; bit = MessageAccumulator.refusalBit }
            else if scan.isKey(key, "role") { field = nil; bit = MessageAccumulator.roleBit }
            else if scan.isKey(key, "tool_calls") { field = nil; bit = MessageAccumulator.toolCallsBit }
            else { field = nil; bit = 0 }
            choices[at].message.note(keyText(), bit: bit)
            if let field {
                guard first == UInt8(ascii: "\"") else {
                    choices[at].message.others.mergeLastNonNull(keyText(), scan.value(value))
                    continue
                }
                guard !scan.isEmptyString(value) else {
                    _ = choices[at].message.appendText(field) { _ in }
                    continue
                }
                let from = choices[at].message.appendText(field) { scan.appendString(value, to: &$0) }
                guard field != .refusal else { continue }
                hasOutput = true
                switch field {
                case .content: choices[at].message.content!.withUnsafeBufferPointer { onText(index, false, UnsafeBufferPointer(rebasing: $0[from...])) }
                default: choices[at].message.reasoning!.withUnsafeBufferPointer { onText(index, true, UnsafeBufferPointer(rebasing: $0[from...])) }
                }
            } else if bit == MessageAccumulator.roleBit {
                if first == UInt8(ascii: "\""), !scan.isEmptyString(value) {
                    choices[at].message.role = scan.value(value)
                }
            } else if bit == MessageAccumulator.toolCallsBit {
                guard first == UInt8(ascii: "[") else {
                    choices[at].message.others.mergeLastNonNull("tool_calls", scan.value(value))
                    continue
                }
                let callsBase = ranges.count
                scan.elementRanges(value.lowerBound, into: &ranges)
                let callsEnd = ranges.count
                for c in callsBase..<callsEnd where scan.bytes[ranges[c].value.lowerBound] == UInt8(ascii: "{") {
                    addToolCall(scan, ranges[c].value, choice: at, hasOutput: &hasOutput)
                }
                ranges.removeLast(ranges.count - callsBase)
            } else {
                choices[at].message.others.mergeLastNonNull(keyText(), scan.value(value))
            }
        }
    }

    private mutating func addToolCall(_ scan: JSONScan, _ object: Range<Int>, choice at: Int, hasOutput: inout Bool) {
        let base = ranges.count
        defer { ranges.removeLast(ranges.count - base) }
        scan.members(object.lowerBound, into: &ranges)
        let end = ranges.count
        var index: Int?
        var id: String?
        for i in base..<end {
            let (key, value) = ranges[i]
            if scan.isKey(key, "index") { index = scan.plainInt(value) ?? scan.value(value).intValue }
            else if scan.isKey(key, "id"), scan.bytes[value.lowerBound] == UInt8(ascii: "\"") { id = scan.value(value).stringValue }
        }
        let callIndex = choices[at].message.toolCallIndex(index: index, id: id)
        let position = choices[at].message.toolCallPosition(callIndex)
        for i in base..<end {
            let (key, value) = ranges[i]
            let isString = scan.bytes[value.lowerBound] == UInt8(ascii: "\"")
            if scan.isKey(key, "index") { continue }
            if scan.isKey(key, "id"), isString {
                if let s = id, !s.isEmpty || choices[at].message.toolCalls[position].id == nil {
                    choices[at].message.toolCalls[position].id = s
                }
            } else if scan.isKey(key, "type"), isString {
                let s = scan.value(value).stringValue ?? ""
                if !s.isEmpty || choices[at].message.toolCalls[position].type == nil { choices[at].message.toolCalls[position].type = s }
            } else if scan.isKey(key, "function"), scan.bytes[value.lowerBound] == UInt8(ascii: "{") {
                let fbase = ranges.count
                scan.members(value.lowerBound, into: &ranges)
                let fend = ranges.count
                for f in fbase..<fend {
                    let (fkey, fvalue) = ranges[f]
                    let fString = scan.bytes[fvalue.lowerBound] == UInt8(ascii: "\"")
                    if scan.isKey(fkey, "name"), fString {
                        let s = scan.value(fvalue).stringValue ?? ""
                        if !s.isEmpty || choices[at].message.toolCalls[position].name == nil { choices[at].message.toolCalls[position].name = s }
                    } else if scan.isKey(fkey, "arguments"), fString {
                        if !scan.isEmptyString(fvalue) {
                            hasOutput = true
                            scan.appendString(fvalue, to: &choices[at].message.toolCalls[position].arguments)
                        }
                    } else {
                        choices[at].message.toolCalls[position].functionOthers.mergeLastNonNull(
                            String(decoding: UnsafeBufferPointer(rebasing: scan.bytes[fkey]), as: UTF8.self), scan.value(fvalue))
                    }
                }
                ranges.removeLast(ranges.count - fbase)
            } else {
                choices[at].message.toolCalls[position].others.mergeLastNonNull(
                    String(decoding: UnsafeBufferPointer(rebasing: scan.bytes[key]), as: UTF8.self), scan.value(value))
            }
        }
    }

    // MARK: - Result as bytes, facts

    /// `result().serializedBytes()`, written directly from the merged state (texts from their bytes).
    public func resultBytes() -> [UInt8] {
        var w = JSONWriter(pretty: false, indent: 0)
        w.out.reserveCapacity(256 + choices.reduce(0) { $0 + ($1.message.content?.count ?? 0) + ($1.message.reasoning?.count ?? 0) })
        w.out.append(UInt8(ascii: "{"))
        if let id = top["id"] {
            w.append(#""id":"#)
            w.write(id, level: 0)
            w.out.append(UInt8(ascii: ","))
        }
        w.append(#""object":"chat.completion""#)
        if let v = top["created"] { w.member("created"); w.write(v, level: 0) }
        if let v = top["model"] { w.member("model"); w.write(v, level: 0) }
        w.append(#","choices":["#)
        let order = indexOrder()
        for k in choices.indices {
            if k > 0 { w.out.append(UInt8(ascii: ",")) }
            choices[order.isEmpty ? k : order[k]].write(to: &w)
        }
        w.out.append(UInt8(ascii: "]"))
        if let usage = topUsage ?? hoistedUsage(order) {
            w.append(#","usage":"#)
            w.write(usage, level: 0)
        }
        for (key, value) in top where key != "id" && key != "created" && key != "model" && key != "object"
            && key != "choices" && key != "usage" {
            w.member(key)
            w.write(value, level: 0)
        }
        w.out.append(UInt8(ascii: "}"))
        return w.out
    }

    /// `CompletionFacts.of(result())`, read from the merged state without building the result.
    public var facts: CompletionFacts {
        var f = CompletionFacts()
        if case .string(let s)? = top["id"], !s.isEmpty { f.id = s }
        f.object = "chat.completion"
        if case .string(let s)? = top["model"], !s.isEmpty { f.model = s }
        f.created = top["created"]?.intValue
        let order = indexOrder()
        for position in choices.indices {
            let at = order.isEmpty ? position : order[position]
            let index = choices[at].indexValue.intValue ?? position
            if case .string(let reason) = choices[at].finishReason { f.finishReasons[index] = reason }
            if !f.hasOutput { f.hasOutput = choices[at].message.hasOutput }
        }
        if let usage = topUsage ?? hoistedUsage(order) { f.usage = WireUsage(usage) }
        return f
    }

    /// Positions in `choices` in `index` order; empty when `choices` already is in that order (the usual case:
    /// no sorting, no copy of the choices).
    func indexOrder() -> [Int] {
        var sorted = true
        for i in choices.indices.dropFirst() where choices[i - 1].index > choices[i].index { sorted = false; break }
        if sorted { return [] }
        return choices.indices.sorted { choices[$0].index < choices[$1].index }
    }

    /// `hoistedUsage` of the choices in `order` (see `indexOrder`).
    func hoistedUsage(_ order: [Int]) -> JSONValue? {
        var usages: [JSONValue] = []
        for k in choices.indices { if let u = choices[order.isEmpty ? k : order[k]].usage { usages.append(u) } }
        return usages.isEmpty ? nil : Self.hoistedUsage(usages)
    }
}

extension JSONScan {
    /// `elements`, stored in the merger's shared range stack (keys unused).
    func elementRanges(_ start: Int, into out: inout [(key: Range<Int>, value: Range<Int>)]) {
        var pos = skipWhitespace(start + 1)
        if bytes[pos] == UInt8(ascii: "]") { return }
        while true {
            let end = skipValue(pos)
            out.append((0..<0, pos..<end))
            pos = skipWhitespace(end)
            if bytes[pos] == UInt8(ascii: "]") { return }
            pos = skipWhitespace(pos + 1)
        }
    }
}
