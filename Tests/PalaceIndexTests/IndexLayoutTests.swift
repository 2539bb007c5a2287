import Testing
import PalaceLog
@testable import PalaceIndex

/// The v2 layout: the byte-level JSON reader agrees with SQLite, the bulk rebuild writes the same rows as an
/// ordinary catch-up, an older layout is rebuilt, and the generated columns read back what was written.
@Suite struct IndexLayoutTests {
    struct RNG {
        var s: UInt64
        mutating func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s >> 33 }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ xs: [T]) -> T { xs[int(xs.count)] }
    }

    static func value(_ rng: inout RNG, depth: Int) -> String {
        switch depth > 3 ? rng.int(5) : rng.int(8) {
        case 0: return rng.pick(["0", "-1", "12", "3.25", "-0.5", "1e3", "2E-2", "100000000000000000000", "7"])
        case 1: return rng.pick(["\"a\"", "\"\"", "\"x\\\"y\"", "\"\\u00e9t\\u00e9\"", "\"数据\"", "\"\\ud83d\\ude00\"", "\"line\\nbreak\""])
        case 2: return rng.pick(["true", "false", "null"])
        case 3: return "\"" + rng.pick(["stop", "length", "user", "system", "k"]) + "\""
        case 4: return String(rng.int(50))
        case 5, 6:
            let keys = ["a", "b", "role", "content", "messages", "k", "a"]   // duplicate keys on purpose
            let n = rng.int(4)
            return "{" + (0..<n).map { _ in "\"\(rng.pick(keys))\"" + rng.pick([":", " : "]) + value(&rng, depth: depth + 1) }
                .joined(separator: rng.pick([",", ", "])) + "}"
        default:
            let n = rng.int(4)
            return "[" + (0..<n).map { _ in value(&rng, depth: depth + 1) }.joined(separator: rng.pick([",", " ,"])) + "]"
        }
    }

    static func mutate(_ s: String, _ rng: inout RNG) -> String {
        var b = Array(s.utf8)
        guard !b.isEmpty else { return s }
        switch rng.int(6) {
        case 0: b.remove(at: rng.int(b.count))
        case 1: b.insert(rng.pick(Array("{}[],:\"\\ 0-.e\u{01}x".utf8)), at: rng.int(b.count + 1))
        case 2: b = Array(b.prefix(rng.int(b.count)))
        case 3: b += Array(rng.pick([" ", "\n", "x", ",", "}", "0"]).utf8)
        case 4: b = Array("  \t".utf8) + b + Array("\r\n".utf8)
        default: break
        }
        return String(decoding: b, as: UTF8.self)
    }

    /// SQLite's nesting limit (2000) holds for the one-pass validation too, although the skeleton stops copying at
    /// depth 6; trailing bytes and a NUL are judged as `json_valid` judges them.
    @Test func oneGoValidationKeepsSQLitesLimits() throws {
        let db = try SQLiteConnection(path: ":memory:")
        for doc in [String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000),
                    String(repeating: "[", count: 2001) + String(repeating: "]", count: 2001),
                    String(repeating: "{\"a\":", count: 2000) + "1" + String(repeating: "}", count: 2000),
                    String(repeating: "{\"a\":", count: 2001) + "1" + String(repeating: "}", count: 2001),
                    "{\"a\":1} x", "{\"a\":1}\n", "{\"a\":1}\u{0} trailing", "[1,2,", " \"s\" "] {
            let sqliteValid = try db.scalar("SELECT json_valid(?)", [.text(doc)])?.int64 == 1
            let fused = Array(doc.utf8).withUnsafeBufferPointer { BodySkeleton.validated($0) }
            #expect(fused.valid == sqliteValid && fused.valid == JSONBytes.isValid(Array(doc.utf8)), "\(doc.prefix(40))")
        }
    }

    @Test func jsonBytesAgreesWithSQLite() throws {
        let db = try SQLiteConnection(path: ":memory:")
        var rng = RNG(s: 99)
        var valid = 0, found = 0
        for _ in 0..<1500 {
            let doc = Self.mutate(Self.value(&rng, depth: 0), &rng)
            let sqliteValid = try db.scalar("SELECT json_valid(?)", [.text(doc)])?.int64 == 1
            let ours = JSONBytes.isValid(Array(doc.utf8))
            #expect(ours == sqliteValid, "json_valid(\(doc))")
            // The indexer's one-pass validation + skeleton gives the same verdict and the same skeleton.
            let fused = Array(doc.utf8).withUnsafeBufferPointer { BodySkeleton.validated($0) }
            #expect(fused.valid == sqliteValid, "validated(\(doc))")
            if fused.valid { #expect(fused.skeleton == BodySkeleton.make(Array(doc.utf8)), "skeleton of \(doc)") }
            guard sqliteValid else { continue }
            valid += 1
            for _ in 0..<4 {
                let path: [PredicatePathStep] = (0..<(1 + rng.int(3))).map { _ in
                    rng.int(2) == 0 ? .key(rng.pick(["a", "b", "role", "content", "messages", "k", "zz"]))
                        : .index(rng.pick([0, 1, 2, -1, -2, 5]))
                }
                let sub: SQLiteValue = Array(doc.utf8).withUnsafeBufferPointer { p in
                    JSONBytes.find(p, path: path).map { .text(String(decoding: UnsafeBufferPointer(rebasing: p[$0]), as: UTF8.self)) } ?? .null
                }
                if sub != .null { found += 1 }
                let same = try db.scalar("""
                    SELECT json_extract(?1, ?2) IS json_extract(?3, '$') AND typeof(json_extract(?1, ?2)) = typeof(json_extract(?3, '$'))
                    """, [.text(doc), .text(PredicatePathStep.sqlitePath(path)), sub])?.int64
                #expect(same == 1, "\(doc) \(PredicatePathStep.sqlitePath(path)) → \(sub)")
            }
        }
        #expect(valid > 300 && found > 20, "the generator must produce valid documents (\(valid)) and reachable paths (\(found))")
    }

    @Test func bulkRebuildWritesTheSameRowsAsCatchUp() async throws {
        let f = try LogFixture()
        var ids: [UInt64] = []
        for i in 0..<40 {
            ids.append(try await f.chat(model: ["kimi-k2", "moonshot-v1-8k"][i % 2], user: "question \(i) 月之暗面 \(i)",
                                        answer: "answer \(i)", status: [200, 200, 429, 500][i % 4], stream: i % 3 == 0,
                                        failure: i % 7 == 0 ? ExchangeFailure(step: "connect", message: "refused") : nil))
        }
        let w = try f.openWriter()
        _ = try await w.append(.annotation(Annotation(exchangeID: ids[3], category: "goodcase", addTags: ["t1", "t2"])))
        _ = try await w.append(.tombstone(Tombstone(exchangeIDs: [ids[5], ids[6]], reason: "test")))
        let open = try await f.chat(user: "still open", end: false)
        try await f.closeWriter()

        let a = try f.index()
        try a.catchUp()
        let b = try LogFixture.copyIndex(of: f)
        try b.rebuild()
        let cols = IndexSchema.storedColumns.map { "\"\($0.0)\"" }.joined(separator: ", ")
        let rowsA = try a.db.query("SELECT \(cols) FROM exchanges ORDER BY id")
        let rowsB = try b.db.query("SELECT \(cols) FROM exchanges ORDER BY id")
        #expect(rowsA.count == 39 && rowsA == rowsB)
        #expect(try a.summary(id: Int64(open))?.state == "incomplete")
        #expect(try b.list(ListQuery(limit: 0, predicates: ["tags ~ 't2' && category == 'goodcase'"])).map(\.id) == [Int64(ids[3])])
        for q in ["question 7", "月之暗面", "answer"] {
            #expect(try a.ids(ListQuery(limit: 0, text: q)) == b.ids(ListQuery(limit: 0, text: q)))
        }
        #expect(try b.ids(ListQuery(limit: 0, text: "question 5")).isEmpty, "tombstoned: never found")
        #expect(try b.verify().isClean)
    }

    @Test func generatedColumnsReadBackWhatWasLogged() async throws {
        let f = try LogFixture()
        let id = try await f.chat(model: "kimi-k2", stream: true, latencyMs: 1234,
                                  failure: ExchangeFailure(step: "read_response_body", message: "cut"))
        try await f.closeWriter()
        let idx = try f.index()
        try idx.catchUp()
        let s = try #require(try idx.summary(id: Int64(id)))
        #expect(s.method == "POST" && s.path == "/v1/chat/completions" && s.endpoint == "https://api.moonshot.cn")
        #expect(s.latencyMs == 1234 && s.ttftMs == 150 && s.ttfbMs == 100 && s.serverTiming == 700)
        #expect(s.responseContentType == "text/event-stream" && s.requestContentType == "application/json")
        #expect(s.errorStep == "read_response_body" && s.error == "cut" && s.finishReason == "stop")
        #expect(s.endedAt == s.startedAt + 1_234_000)
        for p in ["latency_ms == 1234", "path == '/v1/chat/completions'", "error_step ~ 'read'", "finish_reason == 'stop'",
                  "response_content_type == 'text/event-stream'", "query == ''", "ttft_ms > 149.9 && ttft_ms < 150.1"] {
            #expect(try idx.ids(ListQuery(predicates: [p])) == [Int64(id)], "\(p)")
        }
    }

    @Test(arguments: [1, 2, 3, 4]) func olderLayoutIsRebuiltFromTheLog(version: Int) async throws {
        let f = try LogFixture()
        try await f.chat(); try await f.chat()
        try await f.closeWriter()
        try f.index().catchUp()
        let db = try SQLiteConnection(path: f.dir.indexPath)
        if version == 2 {
            // v2 had no skeleton columns: the rebuilt file must have them (and use them).
            try db.execute("ALTER TABLE exchanges DROP COLUMN request_skel; ALTER TABLE exchanges DROP COLUMN response_skel")
        }
        if version == 4 {
            // v4 looked ids up through two B-tree indexes and had no `exchange_keys`: the rebuilt file has the table
            // (and finds the ids through it), not the indexes.
            try db.execute("""
                DROP TABLE exchange_keys;
                CREATE INDEX exchanges_chatcmpl ON exchanges(substr(chatcmpl, -8));
                CREATE INDEX exchanges_request_id ON exchanges(substr(request_id, -8));
                """)
        }
        try db.execute("PRAGMA user_version = \(version)")
        let notices = NoticeBox()
        let idx = try f.index(notices: notices)
        try idx.catchUp()
        #expect(notices.all.first?.contains("older layout v\(version); rebuilding") == true, "\(notices.all)")
        #expect(notices.all.count == 1, "one line: \(notices.all)")
        #expect(try idx.list(ListQuery()).count == 2)
        #expect(try idx.ids(ListQuery(limit: 0, predicates: ["request_body.model == 'kimi-k2'"])).count == 2)
        #expect(try idx.db.scalar("SELECT count(*) FROM exchanges WHERE request_skel IS NOT NULL")?.int64 == 2)
        #expect(try idx.status().schemaVersion == Int(IndexSchema.currentVersion))
        let rows = try idx.db.query("SELECT id, chatcmpl, request_id FROM exchanges ORDER BY id")
        #expect(rows.count == 2)
        for r in rows {
            #expect(try idx.find(id: nil, chatcmpl: r[1].string, requestID: nil) == r[0].int64)
            #expect(try idx.find(id: nil, chatcmpl: nil, requestID: r[2].string) == r[0].int64)
            #expect(try idx.ids(ListQuery(limit: 0, predicates: ["chatcmpl == '\(r[1].string ?? "")'"])) == [r[0].int64!])
        }
        let indexes = try idx.db.query("SELECT name FROM sqlite_master WHERE type = 'index'").compactMap { $0[0].string }
        #expect(!indexes.contains("exchanges_chatcmpl"))
    }

    @Test func bodyPathsAreDecidedFromTheLogInBatches() async throws {
        let f = try LogFixture()
        for i in 0..<300 {
            try await f.chat(user: "n\(i)", extraRequest: i % 10 == 0 ? ",\"max_tokens\":4096" : ",\"max_tokens\":512")
        }
        try await f.closeWriter()
        let idx = try f.index()
        try idx.catchUp()
        let all = try idx.ids(ListQuery(limit: 0, predicates: ["request_body.max_tokens == 4096"]))
        #expect(all.count == 30 && all == all.sorted(by: >))
        #expect(try idx.ids(ListQuery(limit: 5, predicates: ["request_body.max_tokens == 4096"])) == Array(all.prefix(5)))
        #expect(try idx.ids(ListQuery(limit: 0, predicates: ["request_body.messages.-1.content == 'n7'"])) == [8])
    }
}

extension LogFixture {
    /// A second index file over the same log (another process's view), for comparing build paths.
    static func copyIndex(of f: LogFixture) throws -> ExchangeIndex {
        try ExchangeIndex(indexPath: f.dir.path + "/second.sqlite", logDirectory: f.dir.logDirectory)
    }
}
