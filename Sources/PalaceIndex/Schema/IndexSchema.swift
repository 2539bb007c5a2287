/// The index's tables, versioned by `PRAGMA user_version`.
///
/// Invariants:
/// - Everything here is derived from the log: dropping the file and replaying the log gives the same rows. So a
///   file with an older schema version is not migrated in place but rebuilt from the log (with a one-line notice,
///   see `ExchangeIndex.init`); a newer one likewise.
/// - `exchanges` exposes one column per predicate field with the same name and declared type as the residual
///   table, so a predicate compiles to the same SQL over both. Many of them are VIRTUAL generated columns over a
///   compact stored form (no storage, computed when read): durations are stored as integer microseconds, common
///   strings (method, path, endpoint, finish reason, content types, state) as small codes in `codes`, and rare
///   values in one JSON object `raw`. That keeps a row near 200 bytes.
/// - `index_meta.watermark` is the log sequence number of the next record to read; it is written in the same
///   transaction as the rows derived from the records before it.
/// - The bodies are not copied into the index: `json_state` records whether each body is valid JSON, and
///   `request_skel`/`response_skel` hold a compressed skeleton of each (`BodySkeleton`: keys, numbers, short
///   strings); a body-path comparison is decided from the skeleton inside SQLite when it can be, otherwise from
///   the log (see `PredicatePlan`).
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

    /// What `ExchangeRow` writes, in order (name, declared type).
    static let storedColumns: [(String, String)] = [
        ("id", "INTEGER PRIMARY KEY"), ("started_at", "INTEGER NOT NULL"), ("end_us", "INTEGER"),
        ("state_code", "INTEGER NOT NULL"), ("status", "INTEGER"), ("codes", "INTEGER NOT NULL"), ("model", "TEXT"),
        ("chatcmpl", "TEXT"), ("request_id", "TEXT"), ("user_id", "TEXT"), ("group_id", "TEXT"),
        ("stream", "INTEGER"), ("prompt_tokens", "INTEGER"), ("completion_tokens", "INTEGER"),
        ("total_tokens", "INTEGER"), ("cached_tokens", "INTEGER"), ("server_timing_us", "INTEGER"),
        ("ttfb_us", "INTEGER"), ("ttft_us", "INTEGER"), ("latency_us", "INTEGER"), ("tpot_us", "INTEGER"),
        ("otps_milli", "INTEGER"), ("request_bytes", "INTEGER"), ("response_bytes", "INTEGER"), ("flags", "INTEGER"),
        // bit 1/2: request/response body is valid JSON; 4/8: not known (too large to check while indexing).
        ("json_state", "INTEGER NOT NULL"), ("category", "TEXT"), ("tags", "TEXT"),
        // Rare values as one JSON object: method, path, query, endpoint, finish_reason, content types that have no
        // code, client_request_id, error_step, error, warnings.
        ("raw", "TEXT"),
        // Log positions: the begin record, and every later record of the exchange packed as varints.
        ("begin_segment", "INTEGER NOT NULL"), ("begin_offset", "INTEGER NOT NULL"), ("positions", "BLOB"),
        // Since v3: the bodies' skeletons (`BodySkeleton`), NULL when the body is not valid JSON or too large.
        ("request_skel", "BLOB"), ("response_skel", "BLOB"),
    ]

    /// Small codes for common strings, packed into `codes` (field, bit shift, bit width, values by code 1…).
    static let codeTables: [(field: String, shift: Int, bits: Int, values: [String])] = [
        ("method", 0, 3, ["POST", "GET", "DELETE", "PUT", "PATCH"]),
        ("path", 3, 4, ["/v1/chat/completions", "/v1/models", "/v1/files", "/v1/users/me/balance",
                        "/v1/tokenizers/estimate-token-count", "/v1/completions", "/v1/embeddings",
                        "/v1/caching", "/v1/batches"]),
        ("endpoint", 7, 3, ["https://api.moonshot.cn", "https://api.moonshot.ai"]),
        ("finish_reason", 10, 3, ["stop", "length", "tool_calls", "content_filter"]),
        ("request_content_type", 13, 2, ["application/json", "multipart/form-data"]),
        ("response_content_type", 15, 2, ["application/json", "text/event-stream"]),
    ]

    /// Generated columns: name, declared type, expression over the stored columns.
    static var generatedColumns: [(String, String, String)] {
        func sql(_ s: String) -> String { "'" + s.replacing("'", with: "''") + "'" }
        var out: [(String, String, String)] = [
            ("state", "TEXT", "CASE state_code WHEN 0 THEN 'complete' WHEN 1 THEN 'in_flight' ELSE 'incomplete' END"),
            ("ended_at", "INTEGER", "started_at + end_us"),
            ("server_timing", "REAL", "server_timing_us / 1000.0"),
            ("ttfb_ms", "REAL", "ttfb_us / 1000.0"), ("ttft_ms", "REAL", "ttft_us / 1000.0"),
            ("tpot_ms", "REAL", "tpot_us / 1000.0"), ("otps", "REAL", "otps_milli / 1000.0"),
            ("latency_ms", "REAL", "latency_us / 1000.0"),
            ("query", "TEXT", "coalesce(json_extract(raw, '$.query'), '')"),
        ]
        for t in codeTables {
            let whens = t.values.enumerated().map { "WHEN \($0.offset + 1) THEN \(sql($0.element))" }.joined(separator: " ")
            out.append((t.field, "TEXT",
                        "CASE (codes >> \(t.shift)) & \((1 << t.bits) - 1) \(whens) ELSE json_extract(raw, '$.\(t.field)') END"))
        }
        for f in ["client_request_id", "error_step", "error", "warnings"] {
            out.append((f, "TEXT", "json_extract(raw, '$.\(f)')"))
        }
        return out
    }

    /// v4: the full-text table's tokenizer is `palace` (CPalaceFTS: the same tokens from the raw text).
    /// v5: lookups by `chatcmpl`/`request_id` through `exchange_keys` instead of two B-tree indexes on their last
    /// 8 characters (see `keysTableSQL`).
    public static let currentVersion: Int32 = 5

    static var createSQL: String {
        let cols = storedColumns.map { "\"\($0.0)\" \($0.1)" }
            + generatedColumns.map { "\"\($0.0)\" \($0.1) GENERATED ALWAYS AS (\($0.2)) VIRTUAL" }
        return """
            CREATE TABLE exchanges (\(cols.joined(separator: ", ")));
            CREATE TABLE index_meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
            \(fullTextTableSQL)
            \(fullTextTuningSQL)
            \(keysTableSQL)
            \(secondaryIndexesSQL)
            """
    }

    /// The lookup table for `chatcmpl` and `request_id` (since v5): one document per exchange that has either,
    /// the tokens `c<hex of the chatcmpl's last 8 characters>` and `r<…of the request id's>` (`keyDocumentSQL`).
    /// Until v4 these were two B-tree indexes on `substr(…, -8)`: the ids are random, so every commit of the tailer
    /// rewrote nearly every leaf page of both (measured with 700 exchanges per commit: ~8 µs per exchange at 20k
    /// rows, ~16 µs at 200k, growing with the table). FTS5 writes new entries as a segment of their own and merges
    /// segments in the background, so an insert costs the same at any size; a lookup reads one term's entries.
    /// Contentless: a tombstoned exchange's entry stays behind (like its full-text one), and every lookup also
    /// compares the column itself, so a stale or colliding entry never selects a row.
    static let keysTableSQL = """
        CREATE VIRTUAL TABLE exchange_keys USING fts5(k, content = '', columnsize = 0, detail = none,
            tokenize = 'ascii');
        """
    /// The keys document of a row, from its `chatcmpl` (?2) and `request_id` (?3): computed by SQLite itself,
    /// so it is exactly what `keyMatchSQL` computes from a looked-up value (same `substr`, same text conversion).
    static let insertKeysSQL = """
        INSERT INTO exchange_keys (rowid, k) VALUES (?1, \
        iif(?2 IS NULL, '', 'c' || hex(substr(?2, -8))) || ' ' || iif(?3 IS NULL, '', 'r' || hex(substr(?3, -8))))
        """

    /// A condition on `exchanges` selecting the rows whose `column` (chatcmpl or request_id) may equal the value
    /// bound to its one parameter (a superset: add the exact comparison).
    static func keyLookupSQL(_ column: String) -> String {
        let prefix = column == "chatcmpl" ? "c" : "r"
        return "id IN (SELECT rowid FROM exchange_keys WHERE exchange_keys MATCH '\"\(prefix)' || hex(substr(?, -8)) || '\"')"
    }

    /// The full-text table (contentless: the text lives in the log). A rebuild builds one like it in a file of its
    /// own and copies its shadow tables (`exchange_text_data`, `exchange_text_idx`) in.
    static let fullTextTableSQL = """
        CREATE VIRTUAL TABLE exchange_text USING fts5(text, content = '', columnsize = 0,
            tokenize = 'palace remove_diacritics 2');
        """
    /// FTS5 merges `automerge` segments of one level into one (default 4). The tailer commits a segment of a few
    /// rows every 250 ms, so its cost per row is mostly merging: 8 rewrites each entry fewer times (measured
    /// with 5 rows per commit: FTS cost 170 → 145 µs per row) at a few more segments per query. A tuning setting
    /// stored in the table's config, not a layout change.
    static let fullTextTuningSQL = "INSERT INTO exchange_text(exchange_text, rank) VALUES('automerge', 8);"
    static let insertTextSQL = "INSERT INTO exchange_text (rowid, text) VALUES (?, ?)"

    /// Secondary indexes, small on purpose: status, and the few open exchanges (ids: `keysTableSQL`). Dropped
    /// and re-created around a rebuild.
    static let secondaryIndexesSQL = """
        CREATE INDEX IF NOT EXISTS exchanges_status ON exchanges(status);
        CREATE INDEX IF NOT EXISTS exchanges_open ON exchanges(state_code) WHERE state_code != 0;
        """
    static let dropSecondaryIndexesSQL = """
        DROP INDEX IF EXISTS exchanges_chatcmpl; DROP INDEX IF EXISTS exchanges_request_id;
        DROP INDEX IF EXISTS exchanges_status; DROP INDEX IF EXISTS exchanges_open;
        """

    /// Brings a new file to `currentVersion`. Throws `IndexError.newerSchema` / `.olderSchema` for a file written
    /// by another version of moonpalace (the caller rebuilds it from the log).
    static func migrate(_ db: SQLiteConnection) throws {
        let version = Int32(try db.scalar("PRAGMA user_version")?.int64 ?? 0)
        if version > currentVersion { throw IndexError.newerSchema(found: Int(version), known: Int(currentVersion)) }
        if version > 0 && version < currentVersion {
            throw IndexError.olderSchema(found: Int(version), known: Int(currentVersion))
        }
        guard version == 0 else { return }
        try db.transaction {
            // Another process may have created it meanwhile (we hold the write lock now).
            guard try db.scalar("PRAGMA user_version")?.int64 ?? 0 == 0 else { return }
            try db.execute(createSQL)
            try db.execute("PRAGMA user_version = \(currentVersion)")
        }
    }

    /// The one-row table the reference check evaluates predicates over (same names and types as `exchanges`,
    /// plus the full texts only the log has).
    static let residualTableSQL = """
        CREATE TEMP TABLE IF NOT EXISTS residual (\(sharedColumns.map { "\"\($0.0)\" \($0.1)" }.joined(separator: ", ")), \
        request_body TEXT, response_body TEXT, request_header TEXT, response_header TEXT)
        """
}
