import HTTPTypes
import Hummingbird

/// Writes a chat answer as one `chat.completion` JSON object.
///
/// Small answers are one buffer with a Content-Length (the fast path). `huge` answers are written in pieces so
/// memory stays bounded; `drop` declares the full Content-Length, writes half, then cuts the connection.
struct ChatJSON: Sendable {
    let plan: ChatPlan
    let encoding: ChatEncoding
    let settings: RequestSettings

    /// Latency a real non-stream call would have had: first token plus one chunk delay per emitted token.
    var simulatedLatencyMs: Int {
        let tokens = plan.choices.reduce(0) { $0 + $1.plannedCompletionTokens }
        return settings.firstTokenDelayMs + settings.chunkDelayMs * tokens
    }

    var body: ResponseBody {
        if plan.choices.contains(where: { $0.hugeBytes != nil }) { return hugeBody }
        var out = encoding.completionPrefix
        out.reserveCapacity(1024)
        var completion = 0
        for (slot, choice) in plan.choices.enumerated() {
            if slot > 0 { out += "," }
            let entry = MessageCache.shared.message(for: choice) {
                var emitter = ChoiceEmitter(plan: choice)
                let json = ChatEncoding.message(choice: choice.index, emitter: &emitter)
                return MessageCache.Entry(json: json, tokens: emitter.tokens)
            }
            out += entry.json
            completion += entry.tokens
        }
        out += "],\"usage\":"
        out += ChatEncoding.usage(prompt: plan.promptTokens, completion: completion, cached: plan.cachedTokens)
        out += "}"
        let buffer = ByteBuffer(string: out)
        guard settings.has(.drop) else { return ResponseBody(byteBuffer: buffer) }
        return ResponseBody(contentLength: buffer.readableBytes) { writer in
            var half = buffer
            if let slice = half.readSlice(length: buffer.readableBytes / 2) { try await writer.write(slice) }
            throw DroppedConnection()
        }
    }

    private var hugeBody: ResponseBody {
        let plan = plan
        let encoding = encoding
        let drop = settings.has(.drop)
        return ResponseBody { writer in
            var emitters = plan.choices.map(ChoiceEmitter.init(plan:))
            try await writer.write(ByteBuffer(string: encoding.completionPrefix))
            var written = 0
            for slot in emitters.indices {
                var head = slot > 0 ? "," : ""
                head += "{\"index\":\(emitters[slot].plan.index),\"message\":{\"role\":\"assistant\",\"content\":\""
                try await writer.write(ByteBuffer(string: head))
                while let delta = emitters[slot].next() {
                    guard case .content(let text) = delta else { continue }
                    var piece = ""
                    JSONText.appendEscaped(text, to: &piece)
                    try await writer.write(ByteBuffer(string: piece))
                    written += piece.utf8.count
                    if drop && written > (emitters[slot].plan.hugeBytes ?? 0) / 2 { throw DroppedConnection() }
                }
                try await writer.write(
                    ByteBuffer(string: "\"},\"finish_reason\":\(JSONText.quoted(emitters[slot].plan.finishReason))}"))
            }
            let completion = emitters.reduce(0) { $0 + $1.tokens }
            let usage = ChatEncoding.usage(prompt: plan.promptTokens, completion: completion, cached: plan.cachedTokens)
            try await writer.write(ByteBuffer(string: "],\"usage\":\(usage)}"))
            try await writer.finish(nil)
        }
    }
}
