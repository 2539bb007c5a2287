/// One exchange as `list` shows it: the `list --json` fields (snake_case names in `jsonFields`, documented in
/// README), plus a few more for the verbose table and `inspect`'s metadata.
public struct ExchangeSummary: Sendable, Equatable {
    public var id: Int64
    public var state: String
    public var status: Int?
    public var method: String
    public var path: String
    public var query: String
    public var endpoint: String?
    public var chatcmpl: String?
    public var requestID: String?
    public var clientRequestID: String?
    public var userID: String?
    public var groupID: String?
    public var serverTiming: Double?
    /// Unix microseconds.
    public var startedAt: Int64
    public var endedAt: Int64?
    public var model: String?
    public var stream: Bool
    public var promptTokens: Int?
    public var completionTokens: Int?
    public var totalTokens: Int?
    public var cachedTokens: Int?
    public var ttfbMs: Double?
    public var ttftMs: Double?
    public var tpotMs: Double?
    public var otps: Double?
    public var latencyMs: Double?
    public var finishReason: String?
    public var errorStep: String?
    public var error: String?
    public var category: String?
    public var tags: [String]
    public var requestContentType: String?
    public var responseContentType: String?
    public var warnings: [String]

    /// The SELECT list that `init(row:)` reads, in order.
    static let selectList = """
        id, state, status, method, path, query, endpoint, chatcmpl, request_id, client_request_id, user_id, group_id, \
        server_timing, started_at, ended_at, model, stream, prompt_tokens, completion_tokens, total_tokens, \
        cached_tokens, ttfb_ms, ttft_ms, tpot_ms, otps, latency_ms, finish_reason, error_step, error, category, tags, \
        request_content_type, response_content_type, warnings
        """

    init(row v: [SQLiteValue]) {
        func i(_ k: Int) -> Int? { v[k].int64.map { Int($0) } }
        id = v[0].int64 ?? 0
        state = v[1].string ?? "complete"
        status = i(2)
        method = v[3].string ?? ""
        path = v[4].string ?? ""
        query = v[5].string ?? ""
        endpoint = v[6].string
        chatcmpl = v[7].string
        requestID = v[8].string
        clientRequestID = v[9].string
        userID = v[10].string
        groupID = v[11].string
        serverTiming = v[12].double
        startedAt = v[13].int64 ?? 0
        endedAt = v[14].int64
        model = v[15].string
        stream = (v[16].int64 ?? 0) != 0
        promptTokens = i(17); completionTokens = i(18); totalTokens = i(19); cachedTokens = i(20)
        ttfbMs = v[21].double; ttftMs = v[22].double; tpotMs = v[23].double; otps = v[24].double
        latencyMs = v[25].double
        finishReason = v[26].string
        errorStep = v[27].string
        error = v[28].string
        category = v[29].string
        tags = v[30].string.map { $0.split(separator: ",").map(String.init) } ?? []
        requestContentType = v[31].string
        responseContentType = v[32].string
        warnings = v[33].string.map { $0.split(separator: "\n").map(String.init) } ?? []
    }

    /// True for chat-completion paths (MoonPalace shows `chatcmpl` only for these).
    public var isChat: Bool { path.hasSuffix("/chat/completions") }

    /// MoonPalace's "has an error": no status, status ≥ 400, or a proxy/transport error.
    public var hasError: Bool { status == nil || (status ?? 0) >= 400 || error != nil }
}
