import PalaceWire

/// `--detect-repeat` for one streamed exchange: a `RepeatDetector` per choice and per text field (`content` and
/// `reasoning_content`, so a thinking model looping in its reasoning is caught too), fed chunk by chunk.
///
/// On a trip it builds what the client gets instead of the rest of the stream (reference §8.3, with its bugs
/// fixed): for every choice that has streamed and not finished, one well-formed chunk with `delta: {}` and
/// `finish_reason: "repeat"`, then `data: [DONE]` with its blank line — one `[DONE]`, whatever the number of choices.
struct RepeatWatch {
    struct Trip: Sendable, Equatable {
        var choice: Int
        var field: String
        var ratio: Double
        var length: Int
    }

    let settings: RepeatSettings
    /// Key: choice index × 2 + field (0 content, 1 reasoning); a short list searched linearly (a stream has one or
    /// a few), mutated in place (a detector holds ~160 KiB of tables).
    private var detectors: [(key: Int, detector: RepeatDetector)] = []
    private var seen: [Int] = []                          // choice indexes in first-seen order
    private var finished: Set<Int> = []
    private var id: JSONValue?
    private var created: JSONValue?
    private var model: JSONValue?
    private(set) var trip: Trip?

    init(settings: RepeatSettings) { self.settings = settings }

    /// Feeds one parsed chunk; returns the trip when this chunk made a stream trip (once).
    mutating func feed(chunk: JSONValue) -> Trip? {
        guard trip == nil, case .object(let object) = chunk, case .array(let choices)? = object["choices"] else { return nil }
        if let v = object["id"], !v.isNull { id = v }
        if let v = object["created"], !v.isNull { created = v }
        if let v = object["model"], !v.isNull { model = v }
        for (position, choice) in choices.enumerated() {
            let index = choice["index"]?.intValue ?? position
            if !seen.contains(index) { seen.append(index) }
            if let reason = choice["finish_reason"], !reason.isNull { finished.insert(index) }
            guard let delta = choice["delta"] else { continue }
            for (fieldNumber, field) in ["content", "reasoning_content"].enumerated() {
                guard let text = delta[field]?.stringValue, !text.isEmpty else { continue }
                let at = detectorPosition(index * 2 + fieldNumber)
                let tripped = detectors[at].detector.feed(text)
                if tripped && trip == nil {
                    trip = Trip(choice: index, field: field, ratio: detectors[at].detector.ratio,
                                length: detectors[at].detector.length)
                }
            }
        }
        return trip
    }

    /// A choice of a chunk merged on the byte path (`CompletionMerger.add(streamChunk:)`'s `onChoice`).
    mutating func note(choice index: Int, finished isFinished: Bool) {
        if !seen.contains(index) { seen.append(index) }
        if isFinished { finished.insert(index) }
    }

    /// A non-empty `content` or `reasoning_content` fragment (`onText`): fed to that stream's detector; a trip is
    /// kept in `trip` (the first one only; nothing is fed after it).
    mutating func feed(choice index: Int, reasoning: Bool, utf8 text: UnsafeBufferPointer<UInt8>) {
        guard trip == nil else { return }
        let at = detectorPosition(index * 2 + (reasoning ? 1 : 0))
        if detectors[at].detector.feed(utf8: text) {
            trip = Trip(choice: index, field: reasoning ? "reasoning_content" : "content",
                        ratio: detectors[at].detector.ratio, length: detectors[at].detector.length)
        }
    }

    /// The position of `key`'s detector in `detectors`, created if new.
    @inline(__always)
    private mutating func detectorPosition(_ key: Int) -> Int {
        for i in detectors.indices where detectors[i].key == key { return i }
        detectors.append((key, RepeatDetector(threshold: settings.threshold, minLength: settings.minLength)))
        return detectors.count - 1
    }

    /// The top-level members the final chunks repeat, when chunks are no longer fed through `feed(chunk:)`.
    mutating func noteTop(id: JSONValue?, created: JSONValue?, model: JSONValue?) {
        if let id, !id.isNull { self.id = id }
        if let created, !created.isNull { self.created = created }
        if let model, !model.isNull { self.model = model }
    }

    /// The chunks that end every unfinished choice with `finish_reason: "repeat"` (in first-seen order). `top`:
    /// the stream's `id`, `created` and `model` as merged (nil: the ones `feed(chunk:)`/`noteTop` saw).
    func finalChunks(top: (id: JSONValue?, created: JSONValue?, model: JSONValue?)? = nil) -> [JSONValue] {
        let id = top.map { $0.id } ?? self.id
        let created = top.map { $0.created } ?? self.created
        let model = top.map { $0.model } ?? self.model
        return seen.filter { !finished.contains($0) }.map { index in
            var chunk = JSONObject()
            if let id { chunk.set("id", id) }
            chunk.set("object", .string("chat.completion.chunk"))
            if let created { chunk.set("created", created) }
            if let model { chunk.set("model", model) }
            var choice = JSONObject()
            choice.set("index", .number(index))
            choice.set("delta", .object(JSONObject()))
            choice.set("finish_reason", .string("repeat"))
            chunk.set("choices", .array([.object(choice)]))
            return .object(chunk)
        }
    }

    /// The log block's warning for a trip (MoonPalace's sentence, then what tripped).
    static func warning(_ trip: Trip, settings: RepeatSettings) -> String {
        "it appears that there is an issue with content repeating in the current response: choice \(trip.choice) "
            + "\(trip.field) repeated itself (distinct ratio \(LogBlock.fixed(trip.ratio, 3)) < threshold "
            + "\(settings.threshold) after \(trip.length) characters); the stream was cut with finish_reason \"repeat\""
    }
}
