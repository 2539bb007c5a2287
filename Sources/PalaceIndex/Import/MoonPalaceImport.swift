import CSQLite
import PalaceLog
import PalaceWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Imports a MoonPalace `moonpalace.sqlite` (reference §10) into the log as exchanges (`moonpalace import`).
///
/// Reads any version of the table: columns are found by name (old databases have the five migrated columns after
/// `created_at`), missing columns read as NULL, `latency` is nanoseconds, `created_at` is local wall time.
/// Each row becomes a begin + end record flagged `imported`, whose begin `meta` keeps the row's own id
/// (`moonpalace_id`), its `created_at` text (`requested_at`), the source file (`imported_from`) and an
/// `import_key` (id, time and a hash of the content) that makes a second import of the same rows add nothing.
///
/// Invariants: the whole file is read and converted before the first record is written, so a broken or foreign
/// file fails with nothing imported; if writing fails midway, the exchanges this run wrote are tombstoned before
/// the error is reported, so the index never shows half an import.
public final class MoonPalaceImport {
    public struct Report: Sendable, Equatable {
        public var rows = 0
        public var imported = 0
        public var alreadyPresent = 0
        public init() {}
    }

    public let sourcePath: String
    let db: SQLiteConnection
    let columns: Set<String>

    static let wanted = ["id", "request_method", "request_path", "request_query", "request_content_type", "request_id",
                         "moonshot_id", "moonshot_gid", "moonshot_uid", "moonshot_request_id", "moonshot_server_timing",
                         "response_status_code", "response_content_type", "request_header", "request_body",
                         "response_header", "response_body", "error", "response_ttft", "response_tpot", "response_otps",
                         "latency", "endpoint", "created_at"]
    static let required = ["id", "request_method", "request_path", "created_at"]

    /// Opens `path` read-only and checks it is a MoonPalace database. Throws a message a person can act on.
    public init(sourcePath path: String) throws {
        sourcePath = path
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw IndexError.invalidArgument("cannot import \(path): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw IndexError.invalidArgument("cannot import \(path): not a file (give the path of moonpalace.sqlite)")
        }
        do {
            db = try SQLiteConnection(path: path, readOnly: true, create: false)
            let tables = try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0[0].string }
            guard tables.contains("moonshot_requests") else {
                throw IndexError.invalidArgument("cannot import \(path): it is an SQLite database but not MoonPalace's "
                    + "(no table moonshot_requests; tables: \(tables.isEmpty ? "none" : tables.joined(separator: ", ")))")
            }
            columns = Set(try db.query("PRAGMA table_info(moonshot_requests)").compactMap { $0[1].string?.lowercased() })
        } catch let e as SQLiteError {
            throw IndexError.invalidArgument("cannot import \(path): not a readable SQLite database (\(e.message))")
        }
        let missing = Self.required.filter { !columns.contains($0) }
        guard missing.isEmpty else {
            throw IndexError.invalidArgument("cannot import \(path): table moonshot_requests lacks the column(s) "
                + "\(missing.joined(separator: ", ")); is this a MoonPalace database?")
        }
    }

    var selectSQL: String {
        "SELECT " + Self.wanted.map { columns.contains($0) ? "\"\($0)\"" : "NULL" }.joined(separator: ", ")
            + " FROM moonshot_requests ORDER BY id"
    }

    /// Number of rows in the source.
    public func rowCount() throws -> Int {
        do { return Int(try db.scalar("SELECT count(*) FROM moonshot_requests")?.int64 ?? 0) } catch let e as SQLiteError {
            throw IndexError.invalidArgument("cannot import \(sourcePath): \(e.message)")
        }
    }

    /// Reads every row in id order (every column's value, so a damaged page shows up here rather than midway
    /// through the writes) and checks its time, the one thing conversion can fail on; calls `body` per row.
    /// Builds no Swift values for the columns (the bodies are most of the file). Read errors and bad times
    /// name the row.
    func checkRows(_ body: () -> Void) throws {
        let stmt: SQLiteStatement
        do {
            stmt = try db.prepareUncached(selectSQL)
            defer { stmt.reset() }
            let width = Int32(Self.wanted.count)
            while try stmt.step() {
                for i in 0..<width where i != 23 { _ = sqlite3_column_bytes(stmt.handle, i) }
                let originalID = stmt.int64(at: 0) ?? 0
                let createdText = ImportedRow.text(stmt.value(at: 23)) ?? ""
                guard ExportTime.parseLocal(createdText) != nil else {
                    throw ImportedRow.badTime(source: sourcePath, id: originalID, text: createdText)
                }
                body()
            }
        } catch let e as SQLiteError {
            throw IndexError.invalidArgument("cannot import \(sourcePath): the file is damaged (\(e.message)); nothing was imported")
        }
    }

    /// One row's values in `wanted` order, as `SQLiteStatement.value(at:)` reads them except that a TEXT body
    /// that is valid UTF-8 comes as its bytes (`.blob`): `ImportedRow.bytes` gives the same bytes either way
    /// (bodies are only read through it), without the String round trip.
    static func rowValues(_ stmt: SQLiteStatement) -> [SQLiteValue] {
        var v: [SQLiteValue] = []
        v.reserveCapacity(wanted.count)
        for i in 0..<Int32(wanted.count) {
            if (i == 14 || i == 16), sqlite3_column_type(stmt.handle, i) == SQLITE_TEXT,
               let p = sqlite3_column_text(stmt.handle, i) {
                let b = UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt.handle, i)))
                if ImportedRow.isASCII(b) || String(validating: b, as: UTF8.self) != nil {
                    v.append(.blob(Array(b)))
                    continue
                }
            }
            v.append(stmt.value(at: i))
        }
        return v
    }

    /// Import keys of exchanges already imported into `index` (so a second import skips them), loaded once up
    /// front. The begin records are read in log order with one sequential pass per run of nearby positions (an
    /// import writes its rows back to back), not one random read per row, which made a second import of 100,000
    /// rows as slow as the first.
    func existingKeys(index: ExchangeIndex) throws -> Set<String> {
        let positions = try index.importedBeginPositions().sorted()
        var keys: Set<String> = []
        keys.reserveCapacity(positions.count)
        func take(_ record: LogRecord) {
            guard case .begin(let b) = record else { return }
            if let k = b.meta.first(where: { $0.name == "import_key" })?.value { keys.insert(k) }
        }
        var i = 0
        while i < positions.count {
            let start = i
            let records = index.reader.records(fromPosition: positions[i])
            while i < positions.count, let stored = records.next() {
                if stored.position < positions[i] { continue }
                if stored.position == positions[i] { take(stored.record) } else { take(try index.reader.read(at: positions[i]).record) }
                i += 1
                // A gap (another segment, or more than 1 MiB of other traffic): seek instead of reading through it.
                if i < positions.count,
                   positions[i].segment != stored.position.segment || positions[i].offset > stored.position.offset + (1 << 20) {
                    break
                }
            }
            if i == start {   // nothing read from there: fall back to the random read
                take(try index.reader.read(at: positions[i]).record)
                i += 1
            }
        }
        return keys
    }

    /// Validates every row, then appends the new ones through `writer`. `progress(done, total)` is called as rows
    /// are written. The index should be caught up before (`existingKeys` reads it).
    public func run(index: ExchangeIndex, writer: LogWriter,
                    progress: ((Int, Int) -> Void)? = nil) async throws -> Report {
        var report = Report()
        var known = try existingKeys(index: index)
        // Pass 1: read and check everything (no writes); a broken row stops the import before anything is written.
        var total = 0
        try checkRows { total += 1 }
        guard total > 0 else { return report }
        // Pass 2: convert the rows not imported yet and write them, remembering our ids to roll back on failure.
        var written: [UInt64] = []
        do {
            // Rows are read in batches (the SQLite statement cannot be held across an await).
            var offsetID: Int64 = Int64.min
            let batchSQL = selectSQL.replacing(" ORDER BY id", with: " WHERE id > ? ORDER BY id LIMIT 1000")
            while true {
                var batch: [RowSource] = []
                var last: Int64?
                let stmt = try db.prepareUncached(batchSQL)
                try stmt.bind([.integer(offsetID)])
                while try stmt.step() {
                    let v = Self.rowValues(stmt)
                    report.rows += 1
                    last = v[0].int64 ?? 0
                    // The key first: a row imported before is skipped without converting it.
                    let (key, started) = try ImportedRow.key(values: v, source: sourcePath)
                    guard known.insert(key).inserted else { report.alreadyPresent += 1; continue }
                    batch.append(RowSource(values: v, key: key, started: started))
                }
                stmt.reset()
                guard let last else { break }
                offsetID = last
                guard !batch.isEmpty else { continue }
                let rows = await Self.convert(batch, source: sourcePath)
                let before = report.imported
                report.imported += try await ImportedRow.append(rows, to: writer, written: &written)
                if report.imported / 1000 != before / 1000 { progress?(report.imported, total) }
            }
            if report.imported > 0 { try await writer.sync() }
        } catch {
            if !written.isEmpty {
                _ = try? await writer.append(.tombstone(Tombstone(exchangeIDs: written, reason: "import rolled back")))
                try? await writer.sync()
            }
            throw IndexError.invalidArgument("import of \(sourcePath) failed after \(written.count) row(s) (\(error)); "
                + "the rows written were withdrawn, nothing was imported")
        }
        progress?(report.imported, total)
        return report
    }
}

extension MoonPalaceImport {
    /// A row read from the source with its import key, to be converted.
    struct RowSource: Sendable {
        var values: [SQLiteValue]
        var key: String
        var started: Int64
    }

    /// Converts a batch of rows, its two halves in parallel (conversion — JSON parsing, stream merging — is
    /// most of an import's CPU; the rows are independent). Keeps the order.
    static func convert(_ batch: [RowSource], source: String) async -> [ImportedRow] {
        @Sendable func rows(_ part: ArraySlice<RowSource>) -> [ImportedRow] {
            part.map { ImportedRow(values: $0.values, source: source, key: $0.key, started: $0.started) }
        }
        guard batch.count >= 64 else { return rows(batch[...]) }
        let mid = batch.count / 2
        async let first = rows(batch[..<mid])
        let second = rows(batch[mid...])
        return await first + second
    }
}

extension ExchangeIndex {
    /// Begin-record positions of the exchanges flagged `imported` (the `flags` column); when the index has no such
    /// column (an older or newer layout), the log is scanned instead.
    func importedBeginPositions() throws -> [RecordPosition] {
        let imported = Int64(ExchangeFlags.imported.rawValue)
        if let rows = try? db.query("SELECT begin_segment, begin_offset FROM exchanges WHERE (flags & ?) != 0",
                                    [.integer(imported)]) {
            return rows.map { RecordPosition(segment: UInt64($0[0].int64 ?? 0), offset: UInt64($0[1].int64 ?? 0)) }
        }
        var out: [RecordPosition] = []
        for r in reader.records() {
            if case .begin(let b) = r.record, b.flags.contains(.imported) { out.append(r.position) }
        }
        return out
    }
}

/// One MoonPalace row converted to our records.
struct ImportedRow {
    var originalID: Int64
    var key: String
    var begin: ExchangeBegin
    var end: ExchangeEnd
    var requestRest: [UInt8]

    /// The row's import key (`id@created_at#hash of the bodies`) and start time; throws for a time that does not read.
    static func key(values v: [SQLiteValue], source: String) throws -> (key: String, started: Int64) {
        let originalID = v[0].int64 ?? 0
        let createdText = text(v[23]) ?? ""
        guard let started = ExportTime.parseLocal(createdText) else {
            throw badTime(source: source, id: originalID, text: createdText)
        }
        var h: UInt64 = 0xcbf29ce484222325
        func hash(_ b: [UInt8]) { for x in b { h = (h ^ UInt64(x)) &* 0x100000001b3 } }
        hash(bytes(v[14])); hash([0]); hash(bytes(v[16]))
        return ("\(originalID)@\(createdText)#\(String(h, radix: 16))", started)
    }

    static func badTime(source: String, id: Int64, text: String) -> IndexError {
        IndexError.invalidArgument("cannot import \(source): row \(id) has created_at \"\(text)\", "
            + "not a YYYY-MM-DD HH:MM:SS time; nothing was imported")
    }

    /// Whether every byte is ASCII (8 bytes at a time).
    static func isASCII(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = b.baseAddress else { return true }
        var i = 0
        var acc: UInt64 = 0
        while i + 8 <= b.count { acc |= UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self); i += 8 }
        while i < b.count { acc |= UInt64(base[i]); i += 1 }
        return acc & 0x8080_8080_8080_8080 == 0
    }

    static func text(_ v: SQLiteValue) -> String? {
        switch v {
        case .text(let s): return s
        case .blob(let b): return String(decoding: b, as: UTF8.self)
        case .integer(let n): return String(n)
        case .real(let d): return String(d)
        case .null: return nil
        }
    }

    static func bytes(_ v: SQLiteValue) -> [UInt8] {
        switch v {
        case .text(let s): return Array(s.utf8)
        case .blob(let b): return b
        default: return []
        }
    }

    /// `key`/`started`: `ImportedRow.key(values: v, source: source)`, computed by the caller.
    init(values v: [SQLiteValue], source: String, key rowKey: String, started: Int64) {
        func text(_ i: Int) -> String? {
            switch v[i] {
            case .text(let s): return s
            case .blob(let b): return String(decoding: b, as: UTF8.self)
            case .integer(let n): return String(n)
            case .real(let d): return String(d)
            case .null: return nil
            }
        }
        func bytes(_ i: Int) -> [UInt8] {
            switch v[i] {
            case .text(let s): return Array(s.utf8)
            case .blob(let b): return b
            default: return []
            }
        }
        originalID = v[0].int64 ?? 0
        let method = text(1) ?? "GET", path = text(2) ?? "/", query = text(3) ?? ""
        let createdText = text(23) ?? ""
        let requestBody = bytes(14), responseBody = bytes(16)
        let requestHeaders = Self.headers(text(13)), responseHeaders = Self.headers(text(15))
        let status = Int(v[11].int64 ?? 0)
        let stream = (text(12) ?? "").lowercased().hasPrefix("text/event-stream")
        var flags: ExchangeFlags = [.imported]
        if stream { flags.insert(.stream) }
        key = rowKey
        let meta = [HeaderField(name: "moonpalace_id", value: String(originalID)),
                    HeaderField(name: "requested_at", value: createdText),
                    HeaderField(name: "imported_from", value: source),
                    HeaderField(name: "import_key", value: key)]
        let firstPart = Array(requestBody.prefix(64 * 1024))
        requestRest = Array(requestBody.dropFirst(64 * 1024))
        var requestModel: String?
        if let req = try? JSONValue.parse(requestBody) { requestModel = req["model"]?.stringValue }
        begin = ExchangeBegin(startedAt: started, method: method, target: path + (query.isEmpty ? "" : "?" + query),
                              endpoint: text(22) ?? "https://api.moonshot.cn", requestHeaders: requestHeaders,
                              requestBody: firstPart, requestBodyComplete: requestRest.isEmpty,
                              clientRequestID: text(5), flags: flags, meta: meta)
        let latencyMicros = v[21].int64.map { $0 / 1000 }
        var e = ExchangeEnd(exchangeID: 0, endedAt: started + max(0, latencyMicros ?? 0), status: status,
                            responseHeaders: responseHeaders, responseBody: responseBody,
                            requestBodyLength: UInt64(requestBody.count), responseBodyLength: UInt64(responseBody.count))
        e.timings = ExchangeTimings(ttfb: nil, ttft: v[18].int64.map { $0 * 1000 }, total: latencyMicros,
                                    serverTimingMs: v[10].double, tpotMs: v[19].double, outputTokensPerSecond: v[20].double)
        e.requestID = text(9); e.chatcmplID = text(6); e.uid = text(8); e.gid = text(7)
        e.flags = flags
        var completion: JSONValue?
        if stream {
            // StreamMerge.merge, keeping the merged value for the facts below instead of parsing its text again.
            var parser = SSEParser()
            var events = parser.feed(responseBody)
            if let last = parser.finish() { events.append(last) }
            var merger = CompletionMerger()
            for ev in events where !ev.isDone { try? merger.add(sseData: ev.data) }
            if merger.chunkCount > 0 {
                let merged = merger.result()
                e.mergedCompletion = merged.serializedBytes()
                completion = merged
            }
        } else if !responseBody.isEmpty, responseBody.first == UInt8(ascii: "{") {
            completion = try? JSONValue.parse(responseBody)
        }
        if let completion {
            let facts = CompletionFacts.of(completion)
            if let u = facts.usage {
                e.usage = Usage(promptTokens: u.promptTokens, completionTokens: u.completionTokens,
                                totalTokens: u.totalTokens, cachedTokens: u.cachedTokens)
            }
            e.finishReasons = facts.finishReasons.keys.sorted().compactMap { facts.finishReasons[$0] }
            e.model = facts.model
            if e.chatcmplID == nil { e.chatcmplID = facts.id }
        }
        if e.model == nil { e.model = requestModel }
        if let err = text(17), !err.isEmpty {
            e.failure = ExchangeFailure(step: status == 0 ? "send_request" : "read_response_body", message: err)
        }
        end = e
    }

    /// This row's records: begin, request chunks (the body beyond the begin's 64 KiB, 1 MiB each) and end, for
    /// `LogWriter.appendExchanges` (which gives the chunks and the end the begin's new exchange id).
    var records: [LogRecord] {
        var out: [LogRecord] = [.begin(begin)]
        var offset = UInt64(begin.requestBody.count)
        var rest = requestRest[...]
        while !rest.isEmpty {
            let part = Array(rest.prefix(1 << 20))
            out.append(.chunk(ExchangeChunk(exchangeID: 0, direction: .request, offset: offset, bytes: part)))
            offset += UInt64(part.count)
            rest = rest.dropFirst(part.count)
        }
        out.append(.end(end))
        return out
    }

    /// Appends the rows' records in order with one batch; adds the new exchange ids to `written` (on failure,
    /// those whose begin was written, for the caller to withdraw) and returns how many rows were written.
    static func append(_ rows: [ImportedRow], to writer: LogWriter, written: inout [UInt64]) async throws -> Int {
        let result = await writer.appendExchanges(rows.map(\.records))
        written.append(contentsOf: result.exchangeIDs)
        if let error = result.error { throw error }
        return result.exchangeIDs.count
    }

    /// MoonPalace's header text: `Name: value\r\n` per value.
    static func headers(_ text: String?) -> [HeaderField] {
        guard var text, !text.isEmpty else { return [] }
        if let fast = text.withUTF8({ isASCII($0) ? asciiHeaders($0) : nil }) { return fast }
        return text.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" || $0 == "\r" }).compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = String(line[..<colon])
            let value = String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
            return name.isEmpty ? nil : HeaderField(name: name, value: value)
        }
    }
}

extension ImportedRow {
    /// `headers` for ASCII text, on bytes: in ASCII every Character is one byte except "\r\n" (a line break
    /// either way), so splitting at CR and LF bytes, dropping empty lines, cutting at the first ':' and dropping
    /// the spaces after it gives the same fields.
    static func asciiHeaders(_ b: UnsafeBufferPointer<UInt8>) -> [HeaderField] {
        var out: [HeaderField] = []
        var i = 0
        let n = b.count
        while i < n {
            var end = i
            while end < n && b[end] != 0x0D && b[end] != 0x0A { end += 1 }
            if end > i {
                var colon = i
                while colon < end && b[colon] != 0x3A { colon += 1 }
                if colon < end && colon > i {
                    var v = colon + 1
                    while v < end && b[v] == 0x20 { v += 1 }
                    out.append(HeaderField(name: String(decoding: UnsafeBufferPointer(rebasing: b[i..<colon]), as: UTF8.self),
                                           value: String(decoding: UnsafeBufferPointer(rebasing: b[v..<end]), as: UTF8.self)))
                }
            }
            i = end + 1
        }
        return out
    }
}

extension MoonPalaceImport {
    /// The one-line hint `start` prints when MoonPalace's database sits in the data directory (the default data
    /// directory, ~/.moonpalace, is MoonPalace's too), or nil.
    public static func hint(dataDirectory: String) -> String? {
        let path = dataDirectory + "/moonpalace.sqlite"
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 else { return nil }
        return "found MoonPalace's database \(path): bring its history in with 'moonpalace import \(path)' "
            + "(importing again adds nothing)"
    }
}
