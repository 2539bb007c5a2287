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

    /// Calls `body` with every row's import key, in id order, checking each row's time (what conversion can fail
    /// on) without converting the row. Read errors and bad times name the row.
    func forEachKey(_ body: (String) throws -> Void) throws {
        let stmt: SQLiteStatement
        do {
            stmt = try db.prepareUncached(selectSQL)
            defer { stmt.reset() }
            while try stmt.step() {
                var v: [SQLiteValue] = []
                v.reserveCapacity(Self.wanted.count)
                for i in 0..<Int32(Self.wanted.count) { v.append(stmt.value(at: i)) }
                try body(try ImportedRow.key(values: v, source: sourcePath).key)
            }
        } catch let e as SQLiteError {
            throw IndexError.invalidArgument("cannot import \(sourcePath): the file is damaged (\(e.message)); nothing was imported")
        }
    }

    /// Import keys of exchanges already imported into `index` (so a second import skips them).
    func existingKeys(index: ExchangeIndex) throws -> Set<String> {
        var keys: Set<String> = []
        for position in try index.importedBeginPositions() {
            guard case .begin(let b) = try index.reader.read(at: position).record else { continue }
            if let k = b.meta.first(where: { $0.name == "import_key" })?.value { keys.insert(k) }
        }
        return keys
    }

    /// Validates every row, then appends the new ones through `writer`. `progress(done, total)` is called as rows
    /// are written. The index should be caught up before (`existingKeys` reads it).
    public func run(index: ExchangeIndex, writer: LogWriter,
                    progress: ((Int, Int) -> Void)? = nil) async throws -> Report {
        var report = Report()
        var known = try existingKeys(index: index)
        // Pass 1: convert everything (no writes); a broken row stops the import before anything is written.
        var toWrite = 0
        try forEachKey { key in
            report.rows += 1
            if known.contains(key) { report.alreadyPresent += 1 } else { toWrite += 1 }
        }
        guard toWrite > 0 else { return report }
        // Pass 2: write, remembering our ids to roll back on failure.
        var written: [UInt64] = []
        var rows: [ImportedRow] = []
        rows.reserveCapacity(1000)
        func flush() async throws {
            for row in rows {
                let id = try await row.append(to: writer)
                written.append(id)
                report.imported += 1
                if report.imported % 1000 == 0 { progress?(report.imported, toWrite) }
            }
            rows.removeAll(keepingCapacity: true)
        }
        do {
            // Rows are read in batches (the SQLite statement cannot be held across an await).
            var offsetID: Int64 = Int64.min
            while true {
                var batch: [ImportedRow] = []
                let stmt = try db.prepareUncached(selectSQL.replacing(" ORDER BY id", with: " WHERE id > ? ORDER BY id LIMIT 1000"))
                try stmt.bind([.integer(offsetID)])
                while try stmt.step() {
                    var v: [SQLiteValue] = []
                    for i in 0..<Int32(Self.wanted.count) { v.append(stmt.value(at: i)) }
                    batch.append(try ImportedRow(values: v, source: sourcePath))
                }
                stmt.reset()
                guard let last = batch.last else { break }
                offsetID = last.originalID
                for row in batch where !known.contains(row.key) {
                    known.insert(row.key)
                    rows.append(row)
                }
                try await flush()
            }
            try await writer.sync()
        } catch {
            if !written.isEmpty {
                _ = try? await writer.append(.tombstone(Tombstone(exchangeIDs: written, reason: "import rolled back")))
                try? await writer.sync()
            }
            throw IndexError.invalidArgument("import of \(sourcePath) failed after \(written.count) row(s) (\(error)); "
                + "the rows written were withdrawn, nothing was imported")
        }
        progress?(report.imported, toWrite)
        return report
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
            throw IndexError.invalidArgument("cannot import \(source): row \(originalID) has created_at \"\(createdText)\", "
                + "not a YYYY-MM-DD HH:MM:SS time; nothing was imported")
        }
        var h: UInt64 = 0xcbf29ce484222325
        func hash(_ b: [UInt8]) { for x in b { h = (h ^ UInt64(x)) &* 0x100000001b3 } }
        hash(bytes(v[14])); hash([0]); hash(bytes(v[16]))
        return ("\(originalID)@\(createdText)#\(String(h, radix: 16))", started)
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

    init(values v: [SQLiteValue], source: String) throws {
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
        let (rowKey, started) = try Self.key(values: v, source: source)
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
            if let merged = StreamMerge.merge(responseBody) {
                e.mergedCompletion = merged
                completion = try? JSONValue.parse(merged)
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

    /// Appends begin, request chunks and end; returns the new exchange id.
    func append(to writer: LogWriter) async throws -> UInt64 {
        let (id, _) = try await writer.appendBegin(begin)
        var offset = UInt64(begin.requestBody.count)
        var rest = requestRest[...]
        while !rest.isEmpty {
            let part = Array(rest.prefix(1 << 20))
            _ = try await writer.append(.chunk(ExchangeChunk(exchangeID: id, direction: .request, offset: offset, bytes: part)))
            offset += UInt64(part.count)
            rest = rest.dropFirst(part.count)
        }
        var e = end
        e.exchangeID = id
        _ = try await writer.append(.end(e))
        return id
    }

    /// MoonPalace's header text: `Name: value\r\n` per value.
    static func headers(_ text: String?) -> [HeaderField] {
        guard let text, !text.isEmpty else { return [] }
        return text.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" || $0 == "\r" }).compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = String(line[..<colon])
            let value = String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
            return name.isEmpty ? nil : HeaderField(name: name, value: value)
        }
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
