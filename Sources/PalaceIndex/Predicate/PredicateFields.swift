/// The names a predicate may use: the `list --json` field names, with MoonPalace's stored column names accepted as
/// aliases (reference §10.5). `request_id` always means the Moonshot request id (`Msh-Request-Id`); the client's own
/// `X-Request-Id` is `client_request_id`. Units are the `list --json` ones (milliseconds), also for the aliases
/// (`latency` is milliseconds here, where MoonPalace stored nanoseconds).
public struct PredicateField: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A column with the same name and declared type in the index table and the residual table.
        case column
        /// `requested_at`: compared as a time against `started_at` (Unix µs).
        case time
        /// `request_body` / `response_body`: whole text in the residual table, a JSON skeleton in the index.
        case body(BodySide)
        /// Raw text only the decoded record has (`request_header`, `response_header`).
        case recordText
        /// A bit of the exchange's `ExchangeFlags` (`truncated`, `repeat_cut`, …): true/false.
        case flag(UInt64)
    }
    public enum BodySide: Sendable, Equatable { case request, response }

    public let name: String
    /// SQL column name (identical in the index table and the residual table).
    public let column: String
    public let kind: Kind
}

public enum PredicateFields {
    /// Canonical field names, in `list --json` order, then the extra inspectable ones.
    public static let all: [PredicateField] = {
        let columns = ["id", "state", "status", "method", "path", "query", "endpoint", "chatcmpl", "request_id",
                       "client_request_id", "user_id", "group_id", "server_timing", "model", "stream",
                       "prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "ttfb_ms", "ttft_ms",
                       "tpot_ms", "otps", "latency_ms", "finish_reason", "error_step", "error", "category", "tags",
                       "request_content_type", "response_content_type"]
        var fields = columns.map { PredicateField(name: $0, column: $0, kind: .column) }
        fields.insert(PredicateField(name: "requested_at", column: "started_at", kind: .time), at: 13)
        fields += [
            PredicateField(name: "request_body", column: "request_body", kind: .body(.request)),
            PredicateField(name: "response_body", column: "response_body", kind: .body(.response)),
            PredicateField(name: "request_header", column: "request_header", kind: .recordText),
            PredicateField(name: "response_header", column: "response_header", kind: .recordText),
            PredicateField(name: "forced_stream", column: "flags", kind: .flag(1 << 1)),
            PredicateField(name: "truncated", column: "flags", kind: .flag(1 << 2)),
            PredicateField(name: "repeat_cut", column: "flags", kind: .flag(1 << 3)),
            PredicateField(name: "cache_used", column: "flags", kind: .flag(1 << 4)),
        ]
        return fields
    }()

    /// MoonPalace's stored column names (reference §10.2) → our names.
    public static let aliases: [String: String] = [
        "moonpalace_id": "id", "response_status_code": "status", "request_method": "method",
        "request_path": "path", "request_query": "query", "moonshot_id": "chatcmpl",
        "moonshot_request_id": "request_id", "moonshot_uid": "user_id", "moonshot_gid": "group_id",
        "moonshot_server_timing": "server_timing", "created_at": "requested_at", "response_ttft": "ttft_ms",
        "response_tpot": "tpot_ms", "response_otps": "otps", "latency": "latency_ms",
    ]

    static let byName: [String: PredicateField] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// Looks a name up case-sensitively (SQLite column names are case-insensitive, so we also accept any case).
    public static func lookup(_ name: String) -> PredicateField? {
        let lower = name.lowercased()
        return byName[lower] ?? aliases[lower].flatMap { byName[$0] }
    }
}
