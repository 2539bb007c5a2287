import PalaceLog

/// What the chat-completion features decided for one exchange, before it went upstream.
struct ChatFeatures {
    /// The request is `POST …/chat/completions`.
    var isChat = false
    /// `--force-stream` rewrote the request to stream (the record keeps the client's original body).
    var forcedStream = false
    /// Notes for the log block and the end record's warnings (e.g. why caching was skipped).
    var notes: [String] = []
    /// The context cache auto-cache put on the request (nil: none).
    var cacheID: String?

    var beginFlags: ExchangeFlags { forcedStream ? [.forcedStream] : [] }
    var beginMeta: [HeaderField] { forcedStream ? [HeaderField(name: "forced_stream", value: "true")] : [] }
}

extension HeaderPolicy.RequestPlan {
    /// Makes curl negotiate and decode compression, so the bytes the client gets are the decoded ones (a stream the
    /// repeat detector may cut must be cut between events, which a pass-through gzip stream does not allow).
    mutating func decodeForClient() {
        guard clientAcceptsGzip else { return }
        clientAcceptsGzip = false
        acceptEncodingSent = nil
        headers.removeAll { $0.name.lowercased() == "accept-encoding" }
    }
}

extension ExchangeState {
    /// The Authorization value going upstream (the client's, or `--key`'s).
    var authorization: String? { plan.headers.first { $0.name.lowercased() == "authorization" }?.value }
}
