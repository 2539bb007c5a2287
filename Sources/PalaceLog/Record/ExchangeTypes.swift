/// One HTTP header (or free-form metadata pair), kept in arrival order; names keep their case.
public struct HeaderField: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(name: String, value: String) { self.name = name; self.value = value }
}

/// Which body a `.chunk` record continues.
public enum BodyDirection: UInt8, Sendable {
    case request = 1, response = 2
}

/// Facts about an exchange as bits. Unknown bits written by a newer version are kept verbatim.
public struct ExchangeFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// The response was an SSE stream.
    public static let stream = ExchangeFlags(rawValue: 1 << 0)
    /// The proxy turned a non-streaming request into a streaming one (`--force-stream`).
    public static let forcedStream = ExchangeFlags(rawValue: 1 << 1)
    /// The stream ended without a finish reason / `[DONE]` (truncation detected).
    public static let truncated = ExchangeFlags(rawValue: 1 << 2)
    /// The repeat detector cut the stream.
    public static let repeatCut = ExchangeFlags(rawValue: 1 << 3)
    /// A context cache was used (auto-cache or explicit).
    public static let cacheUsed = ExchangeFlags(rawValue: 1 << 4)
    /// The exchange was imported from another tool, not captured live.
    public static let imported = ExchangeFlags(rawValue: 1 << 5)
    /// The upstream response was gzip-encoded (bodies are stored decoded).
    public static let gzipResponse = ExchangeFlags(rawValue: 1 << 6)
}

/// Token usage as reported by the API.
public struct Usage: Sendable, Hashable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    public var cachedTokens: Int
    public init(promptTokens: Int = 0, completionTokens: Int = 0, totalTokens: Int = 0, cachedTokens: Int = 0) {
        self.promptTokens = promptTokens; self.completionTokens = completionTokens
        self.totalTokens = totalTokens; self.cachedTokens = cachedTokens
    }
}

/// Timings of one exchange. Durations in microseconds; `nil` means unknown.
public struct ExchangeTimings: Sendable, Hashable {
    public var ttfb: Int64?
    public var ttft: Int64?
    public var total: Int64?
    public var serverTimingMs: Double?
    public var tpotMs: Double?
    public var outputTokensPerSecond: Double?
    public init(ttfb: Int64? = nil, ttft: Int64? = nil, total: Int64? = nil, serverTimingMs: Double? = nil,
                tpotMs: Double? = nil, outputTokensPerSecond: Double? = nil) {
        self.ttfb = ttfb; self.ttft = ttft; self.total = total
        self.serverTimingMs = serverTimingMs; self.tpotMs = tpotMs; self.outputTokensPerSecond = outputTokensPerSecond
    }
}

/// Where and why an exchange failed. Steps: read_request_body, connect, send_request, read_response_head,
/// read_response_body, client_disconnected, timeout.
public struct ExchangeFailure: Sendable, Hashable {
    public var step: String
    public var message: String
    public init(step: String, message: String) { self.step = step; self.message = message }
}
