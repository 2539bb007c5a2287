import PalaceLog
import PalaceWire

/// Watches a decoded response body on its way to the client and extracts what the end record and the log block
/// need: completion id, model, usage, finish reasons, TTFT, and — for streams — the merged `chat.completion`.
///
/// One parser for the whole project: SSE goes through PalaceWire's `SSEParser` (events of any length, split across
/// reads, a final event without its blank line) and chunks through its `CompletionMerger`. The tap never changes
/// what the client receives; a body it cannot understand just yields fewer facts.
struct StreamTap {
    /// Non-stream JSON bodies above this size are not analysed (they still pass and are recorded).
    static let maxAnalysedBody = 8 << 20
    /// Streams are merged into one `chat.completion` up to this much event data; beyond it the merge is dropped
    /// (memory stays bounded for huge streams — the raw stream is in the record) and facts come from the chunks.
    static let maxMergedData = 8 << 20

    let isSSE: Bool
    private var parser = SSEParser()
    private var merger = CompletionMerger()
    private var sawCompletionChunk = false
    private var mergedData = 0
    private(set) var mergeDropped = false
    // Facts seen chunk by chunk (used when the merge was dropped).
    private var chunkID: String?
    private var chunkModel: String?
    private var chunkUsage: WireUsage?
    private var chunkReasons: [Int: String] = [:]
    private var jsonBody: [UInt8] = []
    private var mergedCache: [UInt8]?
    private var jsonTooLarge = false
    /// Monotonic time of the first event carrying output (content, reasoning_content or tool-call arguments).
    private(set) var firstOutputNanos: UInt64?
    private(set) var facts: CompletionSummary?
    /// An `error` object sent inside the stream (Moonshot reports some failures this way).
    private(set) var streamError: String?
    /// The stream's `data: [DONE]` event went by: the client has the whole answer.
    private(set) var sawDone = false
    /// `--detect-repeat` on this stream (set by the exchange for chat completions).
    var repeatWatch: RepeatWatch?
    /// Force-stream conversion: the client's JSON answer is the merge, so it is never dropped for size.
    var keepWholeMerge = false
    /// Bytes fed, and bytes that belong to complete events (the rest is a partial event the parser holds).
    private(set) var fedBytes = 0
    private(set) var consumedBytes = 0
    /// Set when the repeat detector tripped: the stream ends after this many bytes (the end of the tripping
    /// event); later bytes are ignored and never reach the client.
    private(set) var cutAt: Int?

    init(contentType: String?) {
        isSSE = Self.mediaType(contentType, is: "text/event-stream")
        analyseJSON = !isSSE && Self.mediaType(contentType, is: "application/json")
    }
    private let analyseJSON: Bool

    /// Whether the media type of `contentType` (before any `;`, spaces and tabs trimmed) is `lower`, ASCII
    /// case-insensitively (bytes compared in place: this runs for every response).
    static func mediaType(_ contentType: String?, is lower: StaticString) -> Bool {
        guard var type = contentType?.utf8[...] else { return false }
        if let semicolon = type.firstIndex(of: UInt8(ascii: ";")) { type = type[..<semicolon] }
        while let f = type.first, f == 0x20 || f == 0x09 { type = type.dropFirst() }
        while let l = type.last, l == 0x20 || l == 0x09 { type = type.dropLast() }
        guard type.count == lower.utf8CodeUnitCount else { return false }
        var i = 0
        for b in type {
            let folded = b &- UInt8(ascii: "A") < 26 ? b | 0x20 : b
            if folded != lower.utf8Start[i] { return false }
            i += 1
        }
        return true
    }

    mutating func feed(_ bytes: some Collection<UInt8>, now: UInt64) {
        if isSSE {
            guard cutAt == nil else { return }
            fedBytes += bytes.count
            // The parser is moved out while its events are handled, so each event's data is read where the parser
            // holds it (no copy) while `handle` changes the rest of the tap.
            var reader = SSEParser()
            swap(&reader, &parser)
            defer { swap(&reader, &parser) }
            reader.append(bytes)
            while let found = reader.next() {
                consumedBytes += found.rawCount
                if found.hasData { reader.withData { handle(data: $0, now: now) } }
                if cutAt != nil { break }
            }
        } else if analyseJSON && !jsonTooLarge {
            if jsonBody.count + bytes.count > Self.maxAnalysedBody { jsonTooLarge = true; jsonBody = [] }
            else { jsonBody.append(contentsOf: bytes) }
        }
    }

    /// Ends the body: flushes a final event without its blank line and computes the summary.
    mutating func finish(now: UInt64) {
        if isSSE {
            if cutAt == nil, let last = parser.finish(), last.hasData {
                var data = last.data
                data.withUTF8 { handle(data: $0, now: now) }
            }
            if sawCompletionChunk && !mergeDropped { facts = CompletionSummary(facts: merger.facts) }
            else if sawCompletionChunk {
                facts = CompletionSummary(id: chunkID, model: chunkModel, usage: chunkUsage, finishReasons: chunkReasons)
            }
        } else if analyseJSON, !jsonBody.isEmpty, let value = try? JSONValue.parse(jsonBody) {
            facts = CompletionSummary(value)
        }
    }

    /// After a repeat trip: the final chunks (`finish_reason: "repeat"` for every unfinished choice) and
    /// `data: [DONE]` + blank line, as the client receives them; they are merged like upstream chunks.
    mutating func repeatTail() -> [UInt8] {
        guard let watch = repeatWatch else { return [] }
        var out: [UInt8] = []
        let top = mergeDropped ? nil : (id: merger.topMember("id"), created: merger.topMember("created"), model: merger.topMember("model"))
        for chunk in watch.finalChunks(top: top) {
            out += SSEEncoder.encode(json: chunk)
            for (index, reason) in CompletionFacts.of(chunk).finishReasons { chunkReasons[index] = reason }
            if !mergeDropped { merger.add(chunk: chunk); mergedCache = nil }
        }
        out += SSEEncoder.done
        return out
    }

    /// JSON of the merged `chat.completion`, for streams of completion chunks: force-stream's answer to a client
    /// that did not ask for a stream, and the end record's merge. Written once (cached until the merge changes).
    mutating func mergedCompletion() -> [UInt8]? {
        guard isSSE, sawCompletionChunk, !mergeDropped else { return nil }
        if let mergedCache { return mergedCache }
        let bytes = merger.resultBytes()
        mergedCache = bytes
        return bytes
    }

    /// One event's data (the parser's bytes, valid during the call).
    private mutating func handle(data: UnsafeBufferPointer<UInt8>, now: UInt64) {
        guard !data.isEmpty else { return }
        if Self.isDone(data) { sawDone = true; return }
        if !mergeDropped, mergedData + data.count > Self.maxMergedData, !keepWholeMerge {
            // From here on the stream is too large to merge: keep the facts so far, then read chunk by chunk.
            let f = merger.facts
            chunkID = f.id
            chunkModel = f.model
            chunkUsage = f.usage
            chunkReasons = f.finishReasons
            repeatWatch?.noteTop(id: merger.topMember("id"), created: merger.topMember("created"), model: merger.topMember("model"))
            mergeDropped = true
            merger = CompletionMerger()
            mergedCache = nil
        }
        guard !mergeDropped else { return handleSlowly(data: data, now: now) }
        mergedData += data.count
        mergedCache = nil
        var watch: RepeatWatch?
        swap(&watch, &repeatWatch)
        defer { swap(&watch, &repeatWatch) }
        let outcome = merger.add(streamChunk: data,
                                 onChoice: { index, finished in watch?.note(choice: index, finished: finished) },
                                 onText: { index, reasoning, text in watch?.feed(choice: index, reasoning: reasoning, utf8: text) })
        switch outcome {
        case .merged(let hasOutput):
            sawCompletionChunk = true
            if firstOutputNanos == nil && hasOutput { firstOutputNanos = now }
            if watch?.trip != nil { cutAt = consumedBytes }
        case .error(let error):
            streamError = error.serialized()
        case .notACompletionChunk, .invalid:
            break
        }
    }

    /// A chunk of a stream whose merge was dropped: facts chunk by chunk.
    private mutating func handleSlowly(data: UnsafeBufferPointer<UInt8>, now: UInt64) {
        guard let value = try? JSONValue.parse(data) else { return }
        if let error = value["error"] { streamError = error.serialized(); return }
        guard value["choices"] != nil else { return }
        sawCompletionChunk = true
        let f = CompletionFacts.of(value)
        if firstOutputNanos == nil && f.hasOutput { firstOutputNanos = now }
        if let id = f.id { chunkID = id }
        if let model = f.model { chunkModel = model }
        if let usage = f.usage { chunkUsage = usage }
        for (index, reason) in f.finishReasons { chunkReasons[index] = reason }
        if repeatWatch?.feed(chunk: value) != nil { cutAt = consumedBytes }
    }

    /// `[DONE]`, surrounding spaces allowed.
    static func isDone(_ data: UnsafeBufferPointer<UInt8>) -> Bool {
        guard data.count <= 16 else { return false }
        var lo = 0, hi = data.count
        while lo < hi, data[lo] == 0x20 { lo += 1 }
        while hi > lo, data[hi - 1] == 0x20 { hi -= 1 }
        return hi - lo == 6 && data[lo] == UInt8(ascii: "[") && data[lo + 1] == UInt8(ascii: "D")
            && data[lo + 2] == UInt8(ascii: "O") && data[lo + 3] == UInt8(ascii: "N") && data[lo + 4] == UInt8(ascii: "E")
            && data[lo + 5] == UInt8(ascii: "]")
    }
}

/// The facts of one completion (a non-stream body, or the merged stream) in the log's terms.
struct CompletionSummary {
    var id: String?
    var model: String?
    var usage: Usage?
    var finishReasons: [String]

    init(_ value: JSONValue) {
        self.init(facts: CompletionFacts.of(value))
    }

    init(facts: CompletionFacts) {
        self.init(id: facts.id, model: facts.model, usage: facts.usage, finishReasons: facts.finishReasons)
    }

    init(id: String?, model: String?, usage: WireUsage?, finishReasons: [Int: String]) {
        self.id = id
        self.model = model
        self.usage = usage.map {
            Usage(promptTokens: $0.promptTokens, completionTokens: $0.completionTokens,
                  totalTokens: $0.totalTokens, cachedTokens: $0.cachedTokens)
        }
        self.finishReasons = finishReasons.sorted { $0.key < $1.key }.map(\.value)
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
