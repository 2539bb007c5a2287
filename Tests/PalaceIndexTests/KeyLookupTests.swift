import Testing
import PalaceLog
@testable import PalaceIndex

/// Lookups by chatcmpl and request id go through `exchange_keys` (v5) instead of a B-tree index: they must select
/// exactly the rows a plain scan of the column selects, for any value (short, non-ASCII, quotes, numbers, equal
/// last 8 characters, case), on the tailer's incremental path and after a rebuild, with tombstoned rows gone.
@Suite struct KeyLookupTests {
    static let values = ["chatcmpl-abcdefgh12345678", "x-12345678", "y-12345678", "ab", "", "12345678",
                         "聊天补全编号一二三四五六七八", "a\"b'c d*e(f)g:h", "ABCDEFGHIJKL", "abcdefghijkl", "9876543210123",
                         "chatcmpl-abcdefgh12345678"]

    /// Ids whose `column` equals `value`, by scanning (no lookup table involved).
    func scan(_ idx: ExchangeIndex, _ column: String, _ value: SQLiteValue) throws -> [Int64] {
        try idx.db.query("SELECT id FROM exchanges WHERE \"\(column)\" = ? ORDER BY id DESC", [value]).compactMap { $0[0].int64 }
    }

    func check(_ idx: ExchangeIndex) throws {
        var probes = Self.values + ["nope", "zz-12345678", "chatcmpl-ABCDEFGH12345678"]
        probes += Self.values.map { "r-" + $0 }
        for v in probes {
            let c = try scan(idx, "chatcmpl", .text(v)), r = try scan(idx, "request_id", .text(v))
            #expect(try idx.find(id: nil, chatcmpl: v, requestID: nil) == c.first, "find chatcmpl \(v)")
            #expect(try idx.find(id: nil, chatcmpl: nil, requestID: v) == r.first, "find request_id \(v)")
            // (The predicate language keeps backslashes in strings: values with a quote are checked by `find` only.)
            guard !v.contains("'") else { continue }
            let quoted = "'" + v + "'"
            #expect(try idx.ids(ListQuery(limit: 0, predicates: ["chatcmpl == \(quoted)"])) == c, "chatcmpl == \(v)")
            #expect(try idx.ids(ListQuery(limit: 0, predicates: ["request_id == \(quoted)"])) == r, "request_id == \(v)")
            #expect(try idx.ids(ListQuery(limit: 0, predicates: ["request_id == \(quoted) || status == 500"]))
                    == idx.db.query("SELECT id FROM exchanges WHERE request_id = ? OR status = 500 ORDER BY id DESC", [.text(v)])
                        .compactMap { $0[0].int64 }, "request_id == \(v) || status == 500")
        }
        // A number compares with the text column the way SQLite converts it, in the lookup as in the scan.
        #expect(try idx.ids(ListQuery(limit: 0, predicates: ["chatcmpl == 9876543210123"])) == scan(idx, "chatcmpl", .integer(9876543210123)))
        #expect(try !scan(idx, "chatcmpl", .integer(9876543210123)).isEmpty)
    }

    @Test func lookupsSelectWhatAScanSelects() async throws {
        let f = try LogFixture()
        let writer = try f.openWriter()
        let tailer = try f.index()
        var ids: [UInt64] = []
        for (i, v) in Self.values.enumerated() {
            ids.append(try await f.chat(user: "q\(i)", status: i == 3 ? 500 : 200, requestID: "r-" + v, chatcmpl: v))
            if i % 4 == 3 { try tailer.updater.catchUp() }   // several transactions, as the tailer writes them
        }
        let open = try await f.chat(user: "still open", end: false)
        try tailer.updater.catchUp()
        _ = try await writer.append(.tombstone(Tombstone(exchangeIDs: [ids[1]], reason: "cleanup")))
        var end = ExchangeEnd(exchangeID: open, endedAt: TimeExpression.nowMicros(), status: 200)
        end.chatcmplID = "x-12345678"
        end.requestID = "late"
        _ = try await writer.append(.end(end))
        try tailer.updater.catchUp()
        try await f.closeWriter()

        #expect(try scan(tailer, "chatcmpl", .text("x-12345678")) == [Int64(open)])
        #expect(try tailer.find(id: nil, chatcmpl: nil, requestID: "late") == Int64(open))
        #expect(try tailer.find(id: nil, chatcmpl: "chatcmpl-abcdefgh12345678", requestID: nil) == Int64(ids.last!))
        try check(tailer)

        let rebuilt = try ExchangeIndex(indexPath: f.dir.indexPath + "-rebuilt", logDirectory: f.dir.logDirectory)
        defer { ExchangeIndex.removeFiles(f.dir.indexPath + "-rebuilt") }
        try rebuilt.rebuild()
        try check(rebuilt)
        #expect(try tailer.db.query("SELECT * FROM exchanges ORDER BY id") == rebuilt.db.query("SELECT * FROM exchanges ORDER BY id"))
    }

    /// The B-tree indexes of v4 are gone from a new index; the lookup uses the keys table (no scan of `exchanges`).
    @Test func lookupsUseTheKeysTable() async throws {
        let f = try LogFixture()
        try await f.chat()
        try await f.closeWriter()
        let idx = try f.index()
        try idx.catchUp()
        let names = try idx.db.query("SELECT name FROM sqlite_master WHERE type = 'index'").compactMap { $0[0].string }
        #expect(!names.contains("exchanges_chatcmpl") && !names.contains("exchanges_request_id"))
        let plan = try idx.db.query("EXPLAIN QUERY PLAN SELECT id FROM exchanges WHERE \(IndexSchema.keyLookupSQL("chatcmpl")) AND chatcmpl = ?",
                                    [.text("x"), .text("x")]).map { $0.last?.string ?? "" }
        #expect(plan.contains { $0.contains("USING INTEGER PRIMARY KEY") } && !plan.contains { $0 == "SCAN exchanges" }, "\(plan)")
    }
}
