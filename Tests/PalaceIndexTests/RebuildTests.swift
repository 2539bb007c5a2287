import Testing
import PalaceLog
@testable import PalaceIndex
#if canImport(Glibc)
import Glibc
#endif

/// The three-thread rebuild (rows and full text each in a build file of their own, copied over the live index in
/// one transaction at the end), its lock, and the `rebuilding` marker an older moonpalace's rebuild leaves in the
/// live file (which keeps other connections' catch-ups away while it runs and makes an interrupted one rebuild
/// again).
@Suite struct RebuildTests {
    @Test func fullTextAdoptedByARebuildTakesLaterRowsOnEveryConnection() async throws {
        let f = try LogFixture()
        for i in 0..<30 { try await f.chat(user: "before \(i) 月之暗面", answer: "old answer \(i)") }
        let a = try f.index()
        try a.rebuild()
        for suffix in ["-fulltext-rebuild", "-rebuild", "-rebuild.lock"] {
            #expect(access(a.indexPath + suffix, F_OK) != 0, "the build file \(suffix) is removed")
        }
        #expect(try RebuildMarker.state(a.db) == .none)
        #expect(try a.db.scalar("SELECT v FROM exchange_text_config WHERE k = 'automerge'")?.int64 == 8)
        // The same connection (the tailer's path) and a second one add to the adopted segments.
        for i in 0..<5 { try await f.chat(user: "after \(i) 暗面", answer: "new answer \(i)") }
        #expect(try a.catchUp().exchanges == 5)
        let b = try f.index()
        for i in 0..<5 { try await f.chat(user: "later \(i)", answer: "newest answer \(i)") }
        #expect(try b.catchUp().exchanges == 5)
        try await f.closeWriter()
        for idx in [a, b] {
            #expect(try idx.ids(ListQuery(limit: 0, text: "before")).count == 30)
            #expect(try idx.ids(ListQuery(limit: 0, text: "after")).count == 5)
            #expect(try idx.ids(ListQuery(limit: 0, text: "newest")).count == 5)
            #expect(try idx.ids(ListQuery(limit: 0, text: "暗面")).count == 35)
            #expect(try idx.ids(ListQuery(limit: 0, text: "answer")).count == 40)
        }
        try a.db.execute("INSERT INTO exchange_text(exchange_text) VALUES('integrity-check')")
        // A catch-up index of the same log finds exactly the same.
        let c = try LogFixture.copyIndex(of: f)
        try c.catchUp()
        for q in ["before", "after 3", "月之", "暗面", "answer", "newest answer 4"] {
            #expect(try a.ids(ListQuery(limit: 0, text: q)) == c.ids(ListQuery(limit: 0, text: q)), "\(q)")
        }
    }

    @Test func catchUpsLeaveARunningRebuildAloneAndRedoAnInterruptedOne() async throws {
        let f = try LogFixture()
        for i in 0..<10 { try await f.chat(user: "question \(i)") }
        try await f.closeWriter()
        let a = try f.index()
        try a.catchUp()
        // A live rebuilder (this process) holds the marker: catch-ups answer from what is there, write nothing.
        try a.db.execute("DELETE FROM exchanges; DELETE FROM index_meta")
        try IndexMeta.set(a.db, RebuildMarker.key, .text("\(getpid()) 42"))
        let notices = NoticeBox()
        let b = try f.index(notices: notices)
        let r = try b.catchUp()
        #expect(r.exchanges == 0 && r.records == 0)
        #expect(try b.list(ListQuery(limit: 0)).isEmpty)
        #expect(throws: IndexError.self) { try b.rebuild() }
        // Its process is gone: the next catch-up rebuilds, with a notice.
        try IndexMeta.set(a.db, RebuildMarker.key, .text("\(Int32.max) 42"))
        #expect(try b.catchUp().exchanges == 10)
        #expect(notices.all.contains { $0.contains("interrupted") })
        #expect(try b.list(ListQuery(limit: 0)).count == 10 && b.ids(ListQuery(limit: 0, text: "question")).count == 10)
        #expect(try RebuildMarker.state(b.db) == .none)
        // A failed rebuild leaves "0 <why>": rebuilt the same way.
        try IndexMeta.set(a.db, RebuildMarker.key, .text("0 the rebuild failed: disk full"))
        #expect(try RebuildMarker.state(b.db) == .interrupted("the rebuild failed: disk full"))
        #expect(try a.catchUp().exchanges == 10)
        #expect(try a.verify().isClean)
    }

    @Test func searchTextDecodesOnlyTheNewTurnAndLaysOutBytes() {
        let body = #"{"model":"m","messages":[{"role":"system","content":"sys"},{"role":"user","content":"old q"},"#
            + #"{"role":"assistant","content":"old a"},{"content":[{"type":"text","text":"part \"one\""},"two"],"role":"user"},"#
            + #"{"role":"tool","content":"caf\u00e9 \ud83c\udf19 \ud800"}]}"#
        #expect(SearchText.prompt(of: Array(body.utf8)) == "part \"one\"\ntwo\ncafé 🌙 \u{FFFD}")
        let answer = #"{"choices":[{"index":0,"message":{"content":"c","reasoning_content":"r","tool_calls":[{"function":{"arguments":"{\"x\":1}"}}]}},{"text":"t"}]}"#
        #expect(SearchText.answer(of: Array(answer.utf8)) == "r\nc\n{\"x\":1}\nt")
        let long = String(repeating: "a", count: 400) + String(repeating: "月", count: 200)
        let capped = SearchText.prompt(of: Array(#"{"prompt":"\#(long)"}"#.utf8))
        #expect(capped.hasPrefix(String(repeating: "a", count: 320) + "\n…\n") && capped.hasSuffix("月月") && capped.utf8.count <= 645)
        #expect(CJKSegmenter.document("月之暗面 ok") == " 月之 之暗 暗面 面  ok")
        #expect(CJKSegmenter.query("找月之") == " 找月 月之  ")
        #expect(CJKSegmenter.document("月") == " 月 ")
        let doc = CJKSegmenter.document(prompt: [0x61, 0xFF, 0xE6, 0x9C], answer: Array("是的".utf8))
        #expect(String(decoding: doc, as: UTF8.self) == "a\u{FFFD}\u{FFFD}\u{FFFD}\n 是的 的 ")
    }

    /// A catch-up resumes at the position of the last record read (not by scanning its segment for the sequence);
    /// a fingerprint that no longer matches the log falls back to the sequence, reading every record once.
    @Test func catchUpResumesAtTheLastPositionOrFallsBackToTheSequence() async throws {
        let f = try LogFixture()
        for i in 0..<7 { try await f.chat(user: "first \(i)") }
        let idx = try f.index()
        #expect(try idx.updater.catchUp().exchanges == 7)
        for i in 0..<3 { try await f.chat(user: "second \(i)") }
        let r = try idx.updater.catchUp()
        #expect(r.exchanges == 3 && r.records == 6 && r.damage.isEmpty)
        // A wrong position (as after a log was replaced): the sequence decides, nothing is read twice or skipped.
        try IndexMeta.set(idx.db, "last_offset", .integer(3))
        for i in 0..<2 { try await f.chat(user: "third \(i)") }
        let r2 = try idx.updater.catchUp()
        #expect(r2.exchanges == 2 && r2.records == 4 && r2.damage.isEmpty)
        try await f.closeWriter()
        #expect(try idx.list(ListQuery(limit: 0)).count == 12 && idx.ids(ListQuery(limit: 0, text: "third")).count == 2)
        #expect(try idx.verify().isClean)
    }

    /// The live index is left alone until the new contents are complete: other connections keep reading (and
    /// catching up) while a rebuild is under way; a second rebuild is refused while the first holds the lock; the
    /// build files of a rebuild whose process died are removed by the next open, and the index they were meant to
    /// replace is still whole.
    @Test func aRebuildLeavesTheLiveIndexWholeUntilItsContentsAreComplete() async throws {
        let f = try LogFixture()
        for i in 0..<20 { try await f.chat(user: "question \(i) 月之暗面", answer: "answer \(i)") }
        let a = try f.index()
        try a.catchUp()
        let b = try f.index()
        let hold = try #require(RebuildLock(indexPath: a.indexPath))
        #expect(throws: IndexError.self) { try b.rebuild() }
        // A build file as a killed rebuild leaves it (half-written, no journal): ignored while its lock is held…
        let dead = try ExchangeIndex.createBuildFile(ExchangeIndex.buildPath(a.indexPath), pageSize: 4096)
        try dead.execute("INSERT INTO exchanges (id, started_at, state_code, codes, json_state, begin_segment, begin_offset) VALUES (999, 0, 0, 0, 0, 0, 0)")
        _ = try f.index()
        #expect(access(ExchangeIndex.buildPath(a.indexPath), F_OK) == 0)
        hold.release()
        // …and removed once it is not; the live index never saw it.
        let c = try f.index()
        #expect(access(ExchangeIndex.buildPath(a.indexPath), F_OK) != 0)
        #expect(try c.list(ListQuery(limit: 0)).count == 20 && c.summary(id: 999) == nil)
        // The rebuild's progress callback runs between its batches: the live index still answers then, and another
        // connection's catch-up adds the newest exchange to it meanwhile (the copy replaces it with the same).
        for i in 0..<3 { try await f.chat(user: "late \(i)") }
        var seen: [Int] = []
        a.rebuildBatchRecords = 10
        try a.rebuild { _, _ in
            seen.append((try? b.list(ListQuery(limit: 0)).count) ?? -1)
            _ = try? b.catchUp()
        }
        #expect(!seen.isEmpty && seen.allSatisfy { $0 >= 20 }, "\(seen)")
        try await f.closeWriter()
        for idx in [a, b, c] {
            #expect(try idx.list(ListQuery(limit: 0)).count == 23)
            #expect(try idx.ids(ListQuery(limit: 0, text: "暗面")).count == 20 && idx.ids(ListQuery(limit: 0, text: "late")).count == 3)
        }
        #expect(try a.verify().isClean)
        try a.db.execute("INSERT INTO exchange_text(exchange_text) VALUES('integrity-check')")
        #expect(try a.db.scalar("PRAGMA integrity_check")?.string == "ok")
        #expect(try a.db.scalar("PRAGMA journal_mode")?.string == "wal")
    }

    /// The header read on bytes gives what the `String` definition gives (first `;` piece, spaces trimmed,
    /// lowercased), and JSON strings are skipped the same with the 16-byte scan at every offset.
    @Test func contentTypeAndStringScanAgreeWithTheirDefinitions() {
        func reference(_ v: String) -> String { String(v.split(separator: ";").first ?? "").trimmingSpaces.lowercased() }
        for v in ["application/json", " Application/JSON ; charset=utf-8", "text/event-stream;charset=UTF-8", "", ";x",
                  "  ", "TEXT/Ünïcode; a", "multipart/form-data; boundary=x", "a;;b", " ;b"] {
            #expect(ExchangeRow.contentType([HeaderField(name: "Content-Type", value: v)]) == reference(v), "\(v)")
        }
        #expect(ExchangeRow.contentType([HeaderField(name: "X", value: "y")]) == nil)
        // Strings of every length around the 16-byte steps, with the stop bytes (quote, backslash escapes, control
        // characters) at every offset: valid exactly when SQLite's json_valid says so, and skipped to the same end.
        let db = try? SQLiteConnection(path: ":memory:")
        let pieces = ["a", "\\\"", "\\u00e9", "月", "\t", "\u{1}", "0123456789abcdef", "\\n", "\\x", "\\"]
        var checked = 0, valid = 0
        for n in 0..<600 {
            var body = "[\""
            for k in 0..<(n % 37) { body += pieces[(n * 7 + k * 3 + k * k) % pieces.count] }
            body += n % 5 == 0 ? "" : "\",1]"
            let sqlite = (try? db?.scalar("SELECT json_valid(?)", [.text(body)]))??.int64
            #expect(sqlite != nil)
            let ours = JSONBytes.isValid(Array(body.utf8))
            #expect(ours == (sqlite == 1), "\(body.debugDescription)")
            checked += 1
            if ours { valid += 1 }
        }
        #expect(checked == 600 && valid > 100 && valid < 500, "\(valid)")
    }

    /// Documents of exchanges that end out of id order (concurrent traffic) reach FTS5 in increasing rowid order:
    /// each one is held until every exchange begun before it has ended; an exchange that never ends holds back
    /// no more than the limit of documents.
    @Test func fullTextDocumentsOfABulkLoadGoInRowidOrder() {
        func run(stuck: UInt64?, limit: Int) -> (out: [Int64], ended: [Int64], maxHeld: Int) {
            var order = RowidOrder(limit: limit)
            var open: Set<UInt64> = []
            var out: [(Int64, [UInt8])] = []
            var rng = SystemRandomNumberGenerator()
            var next: UInt64 = 1, ended: [Int64] = [], maxHeld = 0
            // Up to five exchanges in flight at once, ending in random order.
            while next <= 300 || open.count > (stuck == nil ? 0 : 1) {
                if next <= 300 && (open.count < 5 || open.count == 1 && stuck != nil && open.contains(stuck!)) {
                    open.insert(next); order.began(next); next += 1
                } else {
                    let id = open.filter { $0 != stuck }.randomElement(using: &rng)!
                    open.remove(id); ended.append(Int64(id))
                    order.add(Int64(id), [UInt8(id % 251)])
                }
                order.ready(isOpen: { open.contains($0) }, into: &out)
                maxHeld = max(maxHeld, order.held)
            }
            order.drain(into: &out)
            #expect(out.allSatisfy { $0.1 == [UInt8($0.0 % 251)] })
            return (out.map(\.0), ended, maxHeld)
        }
        let free = run(stuck: nil, limit: 1000)
        #expect(free.out == free.ended.sorted() && free.out.count == 300, "in id order: \(free.out)")
        #expect(free.maxHeld < 300)
        let held = run(stuck: 3, limit: 8)
        #expect(held.out.sorted() == held.ended.sorted() && held.out.count == 299 && held.maxHeld <= 9)
    }
}
