import HTTPTypes
import Hummingbird

/// Raised inside a body writer to make Hummingbird close the connection mid-body (scenario `drop`).
struct DroppedConnection: Error {}

/// Writes a chat answer as Server-Sent Events: every event is its own HTTP chunk, delays per settings. Without a
/// chunk delay (and without `split-sse`/`drop`, which need exact write boundaries) events are handed to the server
/// in batches (one flush for many chunks, up to 64 KiB), as a real server's buffered writer does when tokens come
/// faster than the network; with a delay every event is flushed on its own, the moment it is due.
///
/// Pacing is deadline-based: event k (0-based, `[DONE]` included) is due at body start + first-token delay +
/// k × chunk delay, so a late wake-up does not push every later event back (no accumulated drift).
///
/// Event order: for each choice round-robin its deltas (role, reasoning, content, tool-call pieces); then one
/// finish chunk per choice, the last one carrying `usage` inside the choice (Moonshot's placement); then, with
/// `include_usage`, a usage-only chunk with `choices: []` (OpenAI's placement); then `data: [DONE]`.
struct ChatStream: Sendable {
    let plan: ChatPlan
    let encoding: ChatEncoding
    let settings: RequestSettings
    let includeUsage: Bool

    var body: ResponseBody {
        ResponseBody { writer in
            var output = SSEOutput(settings: settings, seed: plan.choices.first?.seed ?? 0, dropAfter: dropPoint)
            var emitters = plan.choices.map(ChoiceEmitter.init(plan:))
            var active = Array(emitters.indices)
            let head = encoding.chunkHead
            while !active.isEmpty {
                var stillActive: [Int] = []
                for slot in active {
                    guard let delta = emitters[slot].next() else { continue }
                    stillActive.append(slot)
                    try await output.send(
                        head: head, encoding.chunkTail(choice: emitters[slot].plan.index, delta: delta),
                        to: &writer)
                }
                active = stillActive
            }
            let completion = emitters.reduce(0) { $0 + $1.tokens }
            let usage = ChatEncoding.usage(prompt: plan.promptTokens, completion: completion, cached: plan.cachedTokens)
            for (offset, emitter) in emitters.enumerated() {
                let isLast = offset == emitters.count - 1
                try await output.send(
                    encoding.finishChunk(choice: emitter.plan.index, reason: emitter.plan.finishReason, usage: isLast ? usage : nil),
                    to: &writer)
            }
            if includeUsage { try await output.send(encoding.usageChunk(usage: usage), to: &writer) }
            try await output.sendDone(to: &writer)
            try await output.flush(to: &writer)
            try await writer.finish(nil)
        }
    }

    /// For `drop`: the number of events after which the connection is cut (about half the answer).
    private var dropPoint: Int? {
        guard settings.has(.drop) else { return nil }
        let events = plan.choices.reduce(0) { total, choice in
            if let huge = choice.hugeBytes { return total + huge / ChoiceEmitter.hugeChunkBytes }
            return total + 1 + choice.reasoningTokens + choice.contentTokens + choice.toolCalls.count * 3
        }
        return max(2, events / 2)
    }
}

/// The byte-level side of a stream: SSE framing, delays, `split-sse`, `no-final-newline`, `drop`, `X-Mock-Timestamps`.
struct SSEOutput {
    static let batchBytes = 64 << 10
    let settings: RequestSettings
    private var rng: SeededRandom
    private let dropAfter: Int?
    private var sent = 0
    /// When the body started (only read when paced): event k is due at start + first-token delay + k × chunk delay.
    private let start: ContinuousClock.Instant?
    /// Events are collected and flushed together (no chunk delay, no byte-exact scenario).
    private let batching: Bool
    private var pending: [ByteBuffer] = []
    private var pendingBytes = 0

    init(settings: RequestSettings, seed: UInt64, dropAfter: Int?) {
        self.settings = settings
        rng = SeededRandom(seed: seed ^ 0x5551_7755)
        self.dropAfter = dropAfter
        batching = settings.chunkDelayMs == 0 && dropAfter == nil && !settings.has(.splitSSE)
        start = settings.firstTokenDelayMs > 0 || settings.chunkDelayMs > 0 ? ContinuousClock.now : nil
    }

    /// Hands the collected events to the server in one write.
    mutating func flush(to writer: inout any ResponseBodyWriter) async throws {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        pendingBytes = 0
        try await writer.write(contentsOf: batch)
    }

    mutating func send(_ json: String, to writer: inout any ResponseBodyWriter) async throws {
        try await send(head: "", json, to: &writer)
    }

    /// Sends `data: <head><tail>\n\n` as one write.
    mutating func send(head: String, _ tail: String, to writer: inout any ResponseBodyWriter) async throws {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(head.utf8.count + tail.utf8.count + 8)
        buffer.writeStaticString("data: ")
        buffer.writeString(head)
        buffer.writeString(tail)
        buffer.writeStaticString("\n\n")
        try await write(buffer, to: &writer)
    }

    mutating func sendDone(to writer: inout any ResponseBodyWriter) async throws {
        try await write(ByteBuffer(string: settings.has(.noFinalNewline) ? "data: [DONE]\n" : "data: [DONE]\n\n"), to: &writer)
    }

    private mutating func write(_ buffer: ByteBuffer, to writer: inout any ResponseBodyWriter) async throws {
        if let start {
            let due = start + .milliseconds(settings.firstTokenDelayMs + sent * settings.chunkDelayMs)
            if due > ContinuousClock.now { try await Task.sleep(until: due, clock: .continuous) }
        }
        if let dropAfter, sent >= dropAfter { throw DroppedConnection() }
        sent += 1
        let buffer = settings.timestamps ? Self.stamped(buffer) : buffer
        if batching {
            pending.append(buffer)
            pendingBytes += buffer.readableBytes
            if pendingBytes >= Self.batchBytes { try await flush(to: &writer) }
            return
        }
        guard settings.has(.splitSSE), buffer.readableBytes >= 4 else {
            try await writer.write(buffer)
            return
        }
        // Three pieces cut at seeded byte offsets: inside "data: ", inside the payload (possibly inside a
        // UTF-8 sequence) and between the two final newlines' neighbourhood.
        var rest = buffer
        let total = buffer.readableBytes
        let first = 1 + rng.below(min(5, total - 3))
        let second = first + 1 + rng.below(max(1, total - first - 2))
        for cut in [first, second - first] {
            guard cut > 0, let piece = rest.readSlice(length: cut) else { continue }
            try await writer.write(piece)
            try await Task.sleep(for: .milliseconds(2))
        }
        if rest.readableBytes > 0 { try await writer.write(rest) }
    }

    /// `: t=<CLOCK_REALTIME seconds with 6 decimals>\n` + the event: an SSE comment line (clients skip it) with the
    /// moment the event is handed to the server, for measuring each event's delivery delay.
    static func stamped(_ event: ByteBuffer) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(event.readableBytes + 24)
        buffer.writeStaticString(": t=")
        buffer.writeString(WallClock.nowMicrosecondsText())
        buffer.writeStaticString("\n")
        buffer.writeImmutableBuffer(event)
        return buffer
    }
}
