import PalaceLog
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// In-process timings for `make bench`: the same questions asked of our index and of a MoonPalace-style SQLite
/// table (reference §10: one row per exchange, bodies and headers as TEXT, no secondary indexes, `json_extract`
/// for body paths), both built from the same log.
public struct IndexBenchmark {
    public struct Line: Sendable {
        public var name: String
        public var oursMs: Double
        /// CPU time (all threads of the process) of the median run, in ms: load-independent where wall time is not.
        public var oursCPUMs: Double = 0
        public var moonPalaceMs: Double?
        public var rows: Int
        public var budgetMs: Double?
    }

    let index: ExchangeIndex

    public init(index: ExchangeIndex) { self.index = index }

    /// Median wall time of `runs` calls, in ms, and the last result's row count.
    static func time(_ runs: Int, _ body: () throws -> Int) rethrows -> (Double, Int) {
        let (wall, _, rows) = try timeWithCPU(runs, body)
        return (wall, rows)
    }

    /// CPU time of this process so far, in ms.
    static func processCPUMs() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) * 1000 + Double(t.tv_nsec) / 1e6
    }

    /// Median wall time and median CPU time of `runs` calls, in ms, and the last result's row count.
    static func timeWithCPU(_ runs: Int, _ body: () throws -> Int) rethrows -> (Double, Double, Int) {
        var samples: [Double] = [], cpu: [Double] = [], rows = 0
        for _ in 0..<runs {
            let c0 = processCPUMs()
            let t0 = ContinuousClock.now
            rows = try body()
            let d = (ContinuousClock.now - t0).components
            cpu.append(processCPUMs() - c0)
            samples.append(Double(d.seconds) * 1000 + Double(d.attoseconds) / 1e15)
        }
        return (samples.sorted()[samples.count / 2], cpu.sorted()[cpu.count / 2], rows)
    }

    /// Writes the MoonPalace-style table at `path` from the log (skipped when it already holds `expected` rows).
    public static func buildMoonPalaceTable(path: String, logDirectory: String, expected: Int) throws -> Double {
        let db = try SQLiteConnection(path: path)
        try db.execute("""
            CREATE TABLE IF NOT EXISTS moonshot_requests (id INTEGER NOT NULL CONSTRAINT moonshot_requests_pk PRIMARY KEY AUTOINCREMENT,
              request_method TEXT NOT NULL, request_path TEXT NOT NULL, request_query TEXT NOT NULL, request_content_type TEXT,
              request_id TEXT, moonshot_id TEXT, moonshot_gid TEXT, moonshot_uid TEXT, moonshot_request_id TEXT,
              moonshot_server_timing INTEGER, response_status_code INTEGER, response_content_type TEXT, request_header TEXT,
              request_body TEXT, response_header TEXT, response_body TEXT, error TEXT, response_ttft INTEGER,
              response_tpot INTEGER, response_otps REAL, latency INTEGER, endpoint TEXT,
              created_at TEXT NOT NULL DEFAULT (datetime('now','localtime')))
            """)
        if let n = try db.scalar("SELECT count(*) FROM moonshot_requests")?.int64, Int(n) >= expected { return 0 }
        try db.execute("DELETE FROM moonshot_requests")
        let t0 = ContinuousClock.now
        let reader = try LogReader(directory: logDirectory)
        var begins: [UInt64: ExchangeBegin] = [:]
        let insert = """
            INSERT INTO moonshot_requests (id, request_method, request_path, request_query, request_content_type, moonshot_id,
              moonshot_uid, moonshot_request_id, moonshot_server_timing, response_status_code, response_content_type,
              request_header, request_body, response_header, response_body, error, response_ttft, latency, endpoint, created_at)
            VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?, datetime(? / 1000000, 'unixepoch', 'localtime'))
            """
        try db.execute("BEGIN")
        var n = 0
        for r in reader.records() {
            switch r.record {
            case .begin(let b): begins[b.exchangeID] = b
            case .end(let e):
                guard let b = begins.removeValue(forKey: e.exchangeID) else { continue }
                let (path, query) = ExchangeRow.split(b.target)
                func t(_ s: String?) -> SQLiteValue { s.sqlNullIfEmpty }
                try db.prepare(insert).run([
                    .integer(Int64(b.exchangeID)), .text(b.method), .text(path), .text(query),
                    t(ExchangeRow.contentType(b.requestHeaders)), t(e.chatcmplID), t(e.uid), t(e.requestID),
                    e.timings.serverTimingMs.map { .integer(Int64($0)) } ?? .null, e.status == 0 ? .null : .integer(Int64(e.status)),
                    t(ExchangeRow.contentType(e.responseHeaders)), .text(LoadedExchange.headerText(b.requestHeaders)),
                    .text(String(decoding: b.requestBody, as: UTF8.self)), .text(LoadedExchange.headerText(e.responseHeaders)),
                    .text(String(decoding: e.responseBody, as: UTF8.self)), t(e.failure?.message),
                    e.timings.ttft.map { .integer($0 / 1000) } ?? .null, e.timings.total.map { .integer($0 * 1000) } ?? .null,
                    .text(b.endpoint), .integer(b.startedAt),
                ])
                n += 1
                if n % 20_000 == 0 { try db.execute("COMMIT; BEGIN") }
            default: break
            }
        }
        try db.execute("COMMIT")
        let d = (ContinuousClock.now - t0).components
        return Double(d.seconds) + Double(d.attoseconds) / 1e18
    }

    /// Search terms taken from the newest answered exchange (so the queries hit whatever corpus was generated):
    /// two consecutive English words, one longer English word, four consecutive CJK characters.
    func terms() throws -> (phrase: String, word: String, cjk: String) {
        var phrase = "linked list", word = "because", cjk = "月之暗面"
        let ids = try index.db.query("SELECT id FROM exchanges WHERE state_code = 0 AND status = 200 ORDER BY id DESC LIMIT 50")
            .compactMap { $0[0].int64 }
        var gotPhrase = false, gotWord = false, gotCJK = false
        for id in ids {
            guard let ex = try index.load(id: id), let end = ex.end else { continue }
            var row = ExchangeRow(begin: ex.begin, position: RecordPosition(segment: 0, offset: 0))
            row.requestBody = ex.requestBody
            row.deriveRequest()
            row.apply(end: end, position: RecordPosition(segment: 0, offset: 0))
            let text = row.answer
            let words = text.split(whereSeparator: { !($0.isASCII && $0.isLetter) }).map(String.init)
            if !gotPhrase, let k = words.indices.dropLast().first(where: { words[$0].count >= 4 && words[$0 + 1].count >= 4 }) {
                phrase = words[k] + " " + words[k + 1]; gotPhrase = true
            }
            if !gotWord, let w = words.first(where: { $0.count >= 7 }) { word = w; gotWord = true }
            if !gotCJK {
                let chars = Array(text)
                for k in 0..<max(0, chars.count - 3) where chars[k..<(k + 4)].allSatisfy({ $0.unicodeScalars.first.map { CJKSegmenter.isCJK($0.value) } ?? false }) {
                    cjk = String(chars[k..<(k + 4)]); gotCJK = true; break
                }
            }
            if gotPhrase && gotWord && gotCJK { break }
        }
        return (phrase, word.lowercased(), cjk)
    }

    /// Runs every query on both stores. `runs` for the fast queries; full scans run `scanRuns` times.
    public func run(moonPalacePath: String?, runs: Int = 5, scanRuns: Int = 1) throws -> [Line] {
        let mp = try moonPalacePath.map { try SQLiteConnection(path: $0) }
        func mpCount(_ sql: String, _ params: [SQLiteValue] = []) throws -> Int { try mp?.query(sql, params).count ?? 0 }
        let newest = try index.list(ListQuery(limit: 1, predicates: ["chatcmpl != null"])).first
        let cmpl = newest?.chatcmpl ?? ""
        let (phrase, word, cjk) = try terms()
        var lines: [Line] = []
        func add(_ name: String, budget: Double?, runs r: Int = runs, ours: () throws -> Int, mp mpQuery: (() throws -> Int)?) throws {
            let (o, c, rows) = try Self.timeWithCPU(r, ours)
            let m = try mp == nil ? nil : mpQuery.map { try Self.time(max(1, min(r, scanRuns)), $0).0 }
            lines.append(Line(name: name, oursMs: o, oursCPUMs: c, moonPalaceMs: m, rows: rows, budgetMs: budget))
        }
        func like(_ t: String) -> String { "%" + t + "%" }
        try add("list newest 20", budget: 30, ours: { try index.list(ListQuery(limit: 20)).count },
                mp: { try mpCount("SELECT * FROM moonshot_requests ORDER BY id DESC LIMIT 20") })
        try add("inspect by chatcmpl", budget: 10, ours: {
            guard let id = try index.find(id: nil, chatcmpl: cmpl, requestID: nil) else { return 0 }
            return try index.exchange(id: id) == nil ? 0 : 1
        }, mp: { try mpCount("SELECT * FROM moonshot_requests WHERE moonshot_id = ? LIMIT 1", [.text(cmpl)]) })
        try add("predicate, indexed fields (all matches): model == 'moonshot-v1-8k' && status == 429", budget: 200,
                ours: { try index.ids(ListQuery(limit: 0, predicates: ["model == 'moonshot-v1-8k' && status == 429"])).count },
                mp: { try mpCount("SELECT id FROM moonshot_requests WHERE json_valid(request_body) AND json_extract(request_body, '$.model') = 'moonshot-v1-8k' AND response_status_code = 429 ORDER BY id DESC") })
        try add("predicate, indexed field, newest 20 (list): status == 500", budget: 200,
                ours: { try index.list(ListQuery(limit: 20, predicates: ["status == 500"])).count },
                mp: { try mpCount("SELECT * FROM moonshot_requests WHERE response_status_code = 500 ORDER BY id DESC LIMIT 20") })
        try add("predicate, scalar field, all matches: latency_ms > 8000 && prompt_tokens > 1000", budget: 200, runs: max(1, runs / 2),
                ours: { try index.ids(ListQuery(limit: 0, predicates: ["latency_ms > 8000 && prompt_tokens > 1000"])).count },
                mp: { try mpCount("SELECT id FROM moonshot_requests WHERE latency > 8000000000 AND json_valid(response_body) AND json_extract(response_body, '$.usage.prompt_tokens') > 1000 ORDER BY id DESC") })
        try add("body path (all matches): request_body.max_tokens == 4096 && response_body.choices.0.finish_reason == 'length'",
                budget: 3000, runs: scanRuns,
                ours: { try index.ids(ListQuery(limit: 0, predicates: ["request_body.max_tokens == 4096 && response_body.choices.0.finish_reason == 'length'"])).count },
                mp: { try mpCount("SELECT id FROM moonshot_requests WHERE json_valid(request_body) AND json_extract(request_body, '$.max_tokens') = 4096 AND json_valid(response_body) AND json_extract(response_body, '$.choices[0].finish_reason') = 'length' ORDER BY id DESC") })
        try add("body path, newest 20: request_body.messages.-1.content ~ '\(word)'", budget: 3000, runs: scanRuns,
                ours: { try index.ids(ListQuery(limit: 20, predicates: ["request_body.messages.-1.content ~ '\(word)'"])).count },
                mp: { try mpCount("SELECT * FROM moonshot_requests WHERE json_valid(request_body) AND json_extract(request_body, '$.messages[#-1].content') LIKE ? ORDER BY id DESC LIMIT 20", [.text(like(word))]) })
        try add("full-text, newest 20: '\(phrase)'", budget: 100,
                ours: { try index.search(phrase, query: ListQuery(limit: 20)).count },
                mp: { try mpCount("SELECT * FROM moonshot_requests WHERE request_body LIKE ? OR response_body LIKE ? ORDER BY id DESC LIMIT 20", [.text(like(phrase)), .text(like(phrase))]) })
        try add("full-text, newest 20: '\(cjk)'", budget: 100,
                ours: { try index.search(cjk, query: ListQuery(limit: 20)).count },
                mp: { try mpCount("SELECT * FROM moonshot_requests WHERE request_body LIKE ? OR response_body LIKE ? ORDER BY id DESC LIMIT 20", [.text(like(cjk)), .text(like(cjk))]) })
        try add("full-text, all matching ids: '\(word)'", budget: 100, runs: max(1, runs / 2),
                ours: { try index.ids(ListQuery(limit: 0, text: word)).count },
                mp: { try mpCount("SELECT id FROM moonshot_requests WHERE request_body LIKE ? OR response_body LIKE ?", [.text(like(word)), .text(like(word))]) })
        lines.append(try tailerLine())
        return lines
    }

    /// The proxy's tailer path (`IndexTailer`: `IndexUpdater.catchUp` with its small transactions), per exchange:
    /// the log's first `exchanges` exchanges indexed into a scratch index file `perCatchUp` at a time — row,
    /// full-text entry, watermark and commit each time, as `start` does every 250 ms. Wall and CPU ms per exchange.
    func tailerLine(exchanges: Int = 2000, perCatchUp: Int = 5) throws -> Line {
        let path = index.indexPath + "-tailer-bench"
        ExchangeIndex.removeFiles(path)
        defer { ExchangeIndex.removeFiles(path) }
        let idx = try ExchangeIndex(indexPath: path, logDirectory: index.logDirectory)
        var done = 0, watermark: UInt64 = 0, rounds = 0
        let c0 = Self.processCPUMs(), t0 = ContinuousClock.now
        while done < exchanges {
            idx.updater.stopBefore = watermark + UInt64(2 * perCatchUp)
            let r = try idx.updater.catchUp()
            guard r.records > 0 else { break }
            done += r.exchanges
            watermark = r.watermark
            rounds += 1
        }
        let d = (ContinuousClock.now - t0).components
        let wall = Double(d.seconds) * 1000 + Double(d.attoseconds) / 1e15, cpu = Self.processCPUMs() - c0
        let n = Double(max(done, 1))
        return Line(name: "tailer path, per exchange (\(done) exchanges in \(rounds) catch-ups)", oursMs: wall / n,
                    oursCPUMs: cpu / n, moonPalaceMs: nil, rows: done, budgetMs: nil)
    }
}
