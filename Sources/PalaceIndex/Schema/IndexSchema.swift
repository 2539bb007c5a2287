/// The index's tables, versioned by `PRAGMA user_version` and brought up to date by ordered migrations.
///
/// Invariants:
/// - Everything here is derived from the log: dropping the file and replaying the log gives the same rows.
/// - `exchanges` holds one row per exchange id; the user-facing scalar columns carry the same names and declared
///   types as `PredicateFields` and the residual table, so a predicate compiles to the same SQL over both.
/// - `index_meta.watermark` is the log sequence number of the next record to read; it is written in the same
///   transaction as the rows derived from the records before it.
public enum IndexSchema {
    /// The scalar columns shared by `exchanges` and the residual table (name, declared type).
    static let sharedColumns: [(String, String)] = [
        ("id", "INTEGER"), ("state", "TEXT"), ("status", "INTEGER"), ("method", "TEXT"), ("path", "TEXT"),
        ("query", "TEXT"), ("endpoint", "TEXT"), ("chatcmpl", "TEXT"), ("request_id", "TEXT"),
        ("client_request_id", "TEXT"), ("user_id", "TEXT"), ("group_id", "TEXT"), ("server_timing", "REAL"),
        ("started_at", "INTEGER"), ("model", "TEXT"), ("stream", "INTEGER"), ("prompt_tokens", "INTEGER"),
        ("completion_tokens", "INTEGER"), ("total_tokens", "INTEGER"), ("cached_tokens", "INTEGER"),
        ("ttfb_ms", "REAL"), ("ttft_ms", "REAL"), ("tpot_ms", "REAL"), ("otps", "REAL"), ("latency_ms", "REAL"),
        ("finish_reason", "TEXT"), ("error_step", "TEXT"), ("error", "TEXT"), ("category", "TEXT"), ("tags", "TEXT"),
        ("request_content_type", "TEXT"), ("response_content_type", "TEXT"),
    ]

    /// Columns only the index has: when it ended, sizes, flags, the JSON skeletons and where the records are.
    static let indexOnlyColumns: [(String, String)] = [
        ("ended_at", "INTEGER"), ("request_bytes", "INTEGER"), ("response_bytes", "INTEGER"), ("flags", "INTEGER"),
        ("warnings", "TEXT"),
        // Compact JSON of the request body and the response body (streams: the merged completion) with long
        // strings cut to a marker; json_state bit 1/2 = request/response skeleton unavailable (decide from log).
        ("req_json", "TEXT"), ("resp_json", "TEXT"), ("json_state", "INTEGER NOT NULL DEFAULT 0"),
        // Log positions: the begin record, and every later record of the exchange packed as varints.
        ("begin_segment", "INTEGER NOT NULL"), ("begin_offset", "INTEGER NOT NULL"), ("positions", "BLOB"),
    ]

    public static let currentVersion: Int32 = 1

    /// Migration n (1-based) takes the schema from version n-1 to n.
    static let migrations: [String] = [
        """
        CREATE TABLE exchanges (\((sharedColumns + indexOnlyColumns).map { "\"\($0.0)\" \($0.1)\($0.0 == "id" ? " PRIMARY KEY" : "")" }.joined(separator: ", ")));
        CREATE INDEX exchanges_chatcmpl ON exchanges(chatcmpl) WHERE chatcmpl IS NOT NULL;
        CREATE INDEX exchanges_request_id ON exchanges(request_id) WHERE request_id IS NOT NULL;
        CREATE INDEX exchanges_client_request_id ON exchanges(client_request_id) WHERE client_request_id IS NOT NULL;
        CREATE INDEX exchanges_started_at ON exchanges(started_at);
        CREATE INDEX exchanges_open ON exchanges(state) WHERE state != 'complete';
        CREATE TABLE index_meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
        CREATE VIRTUAL TABLE exchange_text USING fts5(prompt, answer, tokenize = 'trigram');
        """,
    ]

    /// Brings the database to `currentVersion`. Throws `IndexError.newerSchema` for a file written by a newer
    /// moonpalace (the caller rebuilds).
    static func migrate(_ db: SQLiteConnection) throws {
        let version = Int32(try db.scalar("PRAGMA user_version")?.int64 ?? 0)
        if version > currentVersion { throw IndexError.newerSchema(found: Int(version), known: Int(currentVersion)) }
        guard version < currentVersion else { return }
        try db.transaction {
            for v in Int(version)..<Int(currentVersion) { try db.execute(migrations[v]) }
            try db.execute("PRAGMA user_version = \(currentVersion)")
        }
    }

    /// The one-row table the residual check evaluates predicates over (same names and types as `exchanges`,
    /// plus the full texts only the log has).
    static let residualTableSQL = """
        CREATE TEMP TABLE IF NOT EXISTS residual (\(sharedColumns.map { "\"\($0.0)\" \($0.1)" }.joined(separator: ", ")), \
        request_body TEXT, response_body TEXT, request_header TEXT, response_header TEXT)
        """
}
