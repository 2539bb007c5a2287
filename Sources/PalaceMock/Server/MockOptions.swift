/// Everything `moonpalace mock` (or an in-process user such as `start --endpoint mock`) can configure.
///
/// Per-request headers (`X-Mock-Scenario`, `X-Mock-First-Token-Delay-Ms`, `X-Mock-Chunk-Delay-Ms`,
/// `X-Mock-Chunks`, `X-Mock-Head-Delay-Ms`) override the timing values here and add to `scenarios`;
/// `X-Mock-Gzip` and `X-Mock-Timestamps` are per request only (see `RequestSettings`).
public struct MockOptions: Sendable {
    /// Interface to listen on.
    public var host: String = "127.0.0.1"
    /// Port to listen on; 0 picks a free port (learn it from `MockServer.run(onStarted:)`).
    public var port: Int = 9989
    /// Default content seed; a request's own `seed` field overrides it.
    public var seed: UInt64 = 0
    /// When set, `Authorization: Bearer <key>` must carry exactly this key (else 401).
    public var requireKey: String?
    /// Scenarios applied to every request.
    public var scenarios: [MockScenario] = []
    /// Delay before the first event of a stream (and added to the latency of a JSON answer).
    public var firstTokenDelayMs: Int = 0
    /// Delay between two stream events (and per chunk added to the latency of a JSON answer).
    public var chunkDelayMs: Int = 0
    /// Number of content chunks (one token each); nil = a seeded natural length of 12–60 tokens.
    public var chunks: Int?
    /// How long `slow-head` holds the response head back.
    public var headDelayMs: Int = 1500
    /// Content size of a `huge` response.
    public var hugeBytes: Int = 24 << 20
    /// How long a new context cache stays `pending` before it becomes `ready`.
    public var cacheReadyDelayMs: Int = 0
    /// Values of the `Msh-Uid` / `Msh-Gid` response headers.
    public var uid: String = "mock-user-0000000000000000"
    public var gid: String = "enterprise-tier-5"

    public init() {}

    /// Checks ranges; the message names the flag so a CLI user can fix it.
    public func validate() throws(MockError) {
        if !(0...65535).contains(port) { throw .invalidOption("--port must be between 0 and 65535 (got \(port))") }
        if firstTokenDelayMs < 0 { throw .invalidOption("--first-token-delay-ms must not be negative") }
        if chunkDelayMs < 0 { throw .invalidOption("--chunk-delay-ms must not be negative") }
        if let chunks, chunks < 1 || chunks > 1_000_000 {
            throw .invalidOption("--chunks must be between 1 and 1000000 (got \(chunks))")
        }
        if headDelayMs < 0 { throw .invalidOption("--head-delay-ms must not be negative") }
        if hugeBytes < 1 { throw .invalidOption("--huge-bytes must be positive") }
        if let requireKey, requireKey.isEmpty { throw .invalidOption("--require-key must not be empty") }
    }
}
