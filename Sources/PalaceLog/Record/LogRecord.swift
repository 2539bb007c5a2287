/// The first record of an exchange, written before anything goes upstream.
public struct ExchangeBegin: Sendable, Hashable {
    /// Assigned by `LogWriter.appendBegin` (the input value is ignored there); dense, increasing from 1.
    public var exchangeID: UInt64
    /// Unix time in microseconds.
    public var startedAt: Int64
    public var method: String
    /// Path plus `?query`, exactly as received.
    public var target: String
    /// Upstream base URL.
    public var endpoint: String
    /// Headers as forwarded upstream; secrets already masked with `SecretMask`.
    public var requestHeaders: [HeaderField]
    /// The first part (≤ 64 KiB by convention) of the request body.
    public var requestBody: [UInt8]
    /// `false`: the rest of the request body follows as `.chunk(.request)` records.
    public var requestBodyComplete: Bool
    /// The client's `X-Request-Id`.
    public var clientRequestID: String?
    public var flags: ExchangeFlags
    /// Free-form extra metadata (e.g. `moonpalace_id` for imports, `replay_of`).
    public var meta: [HeaderField]

    public init(exchangeID: UInt64 = 0, startedAt: Int64, method: String, target: String, endpoint: String,
                requestHeaders: [HeaderField] = [], requestBody: [UInt8] = [], requestBodyComplete: Bool = true,
                clientRequestID: String? = nil, flags: ExchangeFlags = [], meta: [HeaderField] = []) {
        self.exchangeID = exchangeID; self.startedAt = startedAt; self.method = method; self.target = target
        self.endpoint = endpoint; self.requestHeaders = requestHeaders; self.requestBody = requestBody
        self.requestBodyComplete = requestBodyComplete; self.clientRequestID = clientRequestID
        self.flags = flags; self.meta = meta
    }
}

/// A piece of a request or response body, `offset` bytes into that body.
public struct ExchangeChunk: Sendable, Hashable {
    public var exchangeID: UInt64
    public var direction: BodyDirection
    public var offset: UInt64
    public var bytes: [UInt8]
    /// Response chunks since 1.2: when the reads whose bytes this chunk holds arrived (empty = not recorded).
    public var arrivals: BodyArrivals
    public init(exchangeID: UInt64, direction: BodyDirection, offset: UInt64, bytes: [UInt8],
                arrivals: BodyArrivals = BodyArrivals()) {
        self.exchangeID = exchangeID; self.direction = direction; self.offset = offset; self.bytes = bytes
        self.arrivals = arrivals
    }
}

/// The last record of an exchange: the outcome and everything learnt about it.
public struct ExchangeEnd: Sendable, Hashable {
    public var exchangeID: UInt64
    /// Unix time in microseconds.
    public var endedAt: Int64
    /// HTTP status; 0 = no response.
    public var status: Int
    public var responseHeaders: [HeaderField]
    /// The tail of the (decoded, gunzipped) response body after the response chunk records.
    public var responseBody: [UInt8]
    /// Offset of `responseBody` inside the whole response body.
    public var responseBodyOffset: UInt64
    public var requestBodyLength: UInt64
    public var responseBodyLength: UInt64
    public var timings: ExchangeTimings
    /// `Msh-Request-Id`.
    public var requestID: String?
    public var chatcmplID: String?
    public var uid: String?
    public var gid: String?
    public var model: String?
    public var usage: Usage?
    public var finishReasons: [String]
    public var flags: ExchangeFlags
    public var warnings: [String]
    public var failure: ExchangeFailure?
    /// JSON of the merged `chat.completion`, for streams.
    public var mergedCompletion: [UInt8]?
    /// Since 1.2: when the reads of `responseBody` (the tail, from `responseBodyOffset`) arrived; empty = not recorded.
    public var arrivals: BodyArrivals

    public init(exchangeID: UInt64, endedAt: Int64, status: Int, responseHeaders: [HeaderField] = [],
                responseBody: [UInt8] = [], responseBodyOffset: UInt64 = 0, requestBodyLength: UInt64 = 0,
                responseBodyLength: UInt64 = 0, timings: ExchangeTimings = .init(), requestID: String? = nil,
                chatcmplID: String? = nil, uid: String? = nil, gid: String? = nil, model: String? = nil,
                usage: Usage? = nil, finishReasons: [String] = [], flags: ExchangeFlags = [],
                warnings: [String] = [], failure: ExchangeFailure? = nil, mergedCompletion: [UInt8]? = nil,
                arrivals: BodyArrivals = BodyArrivals()) {
        self.exchangeID = exchangeID; self.endedAt = endedAt; self.status = status
        self.responseHeaders = responseHeaders; self.responseBody = responseBody
        self.responseBodyOffset = responseBodyOffset; self.requestBodyLength = requestBodyLength
        self.responseBodyLength = responseBodyLength; self.timings = timings; self.requestID = requestID
        self.chatcmplID = chatcmplID; self.uid = uid; self.gid = gid; self.model = model; self.usage = usage
        self.finishReasons = finishReasons; self.flags = flags; self.warnings = warnings
        self.failure = failure; self.mergedCompletion = mergedCompletion; self.arrivals = arrivals
    }
}

/// A later judgement about an exchange (good/bad case, tags), written by `export` and friends.
public struct Annotation: Sendable, Hashable {
    public var exchangeID: UInt64
    /// `goodcase` or `badcase`, or nil to leave the category alone.
    public var category: String?
    public var addTags: [String]
    public var removeTags: [String]
    public init(exchangeID: UInt64, category: String? = nil, addTags: [String] = [], removeTags: [String] = []) {
        self.exchangeID = exchangeID; self.category = category; self.addTags = addTags; self.removeTags = removeTags
    }
}

/// Marks exchanges as deleted (`cleanup`); compaction later drops their records.
public struct Tombstone: Sendable, Hashable {
    public var exchangeIDs: [UInt64]
    public var reason: String
    public init(exchangeIDs: [UInt64], reason: String) { self.exchangeIDs = exchangeIDs; self.reason = reason }
}

/// One record of the log. The on-disk type byte is `RecordType`.
public enum LogRecord: Sendable, Hashable {
    case begin(ExchangeBegin)
    case chunk(ExchangeChunk)
    case end(ExchangeEnd)
    case annotation(Annotation)
    case tombstone(Tombstone)

    public var type: RecordType {
        switch self {
        case .begin: .begin
        case .chunk: .chunk
        case .end: .end
        case .annotation: .annotation
        case .tombstone: .tombstone
        }
    }

    /// The exchange this record belongs to; 0 for tombstones (they name several).
    public var exchangeID: UInt64 {
        switch self {
        case .begin(let b): b.exchangeID
        case .chunk(let c): c.exchangeID
        case .end(let e): e.exchangeID
        case .annotation(let a): a.exchangeID
        case .tombstone: 0
        }
    }
}

/// The record type byte of a frame. Values not listed here were written by a newer version and are skipped.
public enum RecordType: UInt8, Sendable, CaseIterable {
    case begin = 1, chunk = 2, end = 3, annotation = 4, tombstone = 5

    public var name: String {
        switch self {
        case .begin: "begin"
        case .chunk: "chunk"
        case .end: "end"
        case .annotation: "annotation"
        case .tombstone: "tombstone"
        }
    }
}
