import Testing
import PalaceLog
@testable import PalaceIndex
#if canImport(Glibc)
import Glibc
#endif

/// The tailer in `start` indexes the log a few records at a time, between writes, with exchanges open across its
/// catch-ups, full text batched per transaction and plain inserts for new rows: the index it builds is the one a
/// rebuild from the log builds.
@Suite struct IncrementalIndexTests {
    /// Every stored column of every row, in id order (rowids of the full text are compared by search below).
    func rows(_ index: ExchangeIndex) throws -> [[SQLiteValue]] {
        try index.db.query("SELECT * FROM exchanges ORDER BY id")
    }

    func searchIDs(_ index: ExchangeIndex, _ words: [String]) throws -> [[Int64]] {
        try words.map { try index.ids(ListQuery(limit: 0, text: $0)) }
    }

    /// Catch-ups between writes, with exchanges open across them, streams, failures, annotations, a tombstone and a
    /// burst of large records. Same rows and full text as a rebuild.
    @Test func catchUpsBetweenWritesIndexLikeARebuild() async throws {
        let f = try LogFixture()
        let writer = try f.openWriter()
        for i in 0..<5 { try await f.chat(user: "before the tailer \(i)", answer: "old answer \(i)") }
        let open = try await f.chat(user: "open across catch-ups", end: false)
        let tailer = try f.index()
        try tailer.markInFlightAsIncomplete()

        var first = try tailer.updater.catchUp()
        #expect(first.records == 11)
        for round in 0..<6 {
            for i in 0..<8 {
                try await f.chat(user: "round \(round) question \(i) about the moon", answer: "answer \(round)-\(i) tides",
                                 stream: i % 3 == 0, finish: i % 4 == 0 ? "length" : "stop",
                                 failure: i == 5 ? ExchangeFailure(step: "read_response_body", message: "reset") : nil)
            }
            try await f.chat(user: "left open in round \(round)", end: false)
            if round == 2 {
                _ = try await writer.append(.annotation(Annotation(exchangeID: open, category: "badcase", addTags: ["x", "y"])))
                _ = try await writer.append(.annotation(Annotation(exchangeID: 3, category: "goodcase", addTags: ["old"])))
                _ = try await writer.append(.tombstone(Tombstone(exchangeIDs: [2, 9], reason: "cleanup")))
            }
            if round == 4 {
                // The tailer falls behind by a burst of larger records.
                for i in 0..<60 { try await f.chat(user: "burst \(i) " + String(repeating: "lunar ", count: 200)) }
            }
            let r = try tailer.updater.catchUp()
            #expect(r.records > 0)
            first.records += r.records
        }
        var end = ExchangeEnd(exchangeID: open, endedAt: TimeExpression.nowMicros(), status: 200)
        end.responseBody = Array(#"{"choices":[{"message":{"content":"finally"}}]}"#.utf8)
        _ = try await writer.append(.end(end))
        let last = try tailer.updater.catchUp()
        #expect(last.records == 1)

        let rebuilt = try ExchangeIndex(indexPath: f.dir.indexPath + "-rebuilt", logDirectory: f.dir.logDirectory)
        defer { ExchangeIndex.removeFiles(f.dir.indexPath + "-rebuilt") }
        try rebuilt.rebuild()
        let mine = try rows(tailer), theirs = try rows(rebuilt)
        #expect(mine.count == theirs.count && mine.count > 100)
        for (a, b) in zip(mine, theirs) { #expect(a == b, "row \(a.first.map { "\($0)" } ?? "?")") }
        let words = ["moon", "tides", "lunar", "finally", "open", "before", "answer", "question", "burst"]
        #expect(try searchIDs(tailer, words) == searchIDs(rebuilt, words))
        #expect(try tailer.watermark() == rebuilt.watermark())
        try await f.closeWriter()
    }

    /// Rows new to this updater are written with a plain INSERT; one that is in the table after all (whatever put
    /// it there) makes that insert fail, and the row is replaced instead of the catch-up failing.
    @Test func aRowAlreadyInTheTableIsReplaced() async throws {
        let f = try LogFixture()
        let tailer = try f.index()
        try await f.chat(user: "first")
        try tailer.updater.catchUp()
        try tailer.db.run("INSERT INTO exchanges (id, started_at, state_code, codes, json_state, begin_segment, begin_offset) VALUES (2, 0, 2, 0, 0, 0, 0)")
        try await f.chat(user: "second")
        let r = try tailer.updater.catchUp()
        #expect(r.exchanges == 1)
        let rebuilt = try ExchangeIndex(indexPath: f.dir.indexPath + "-rebuilt", logDirectory: f.dir.logDirectory)
        defer { ExchangeIndex.removeFiles(f.dir.indexPath + "-rebuilt") }
        try rebuilt.rebuild()
        #expect(try rows(tailer) == rows(rebuilt))
        try await f.closeWriter()
    }

    /// Another process (a CLI read command) catches up between the tailer's catch-ups: the tailer skips the records
    /// already indexed and applies the rest exactly once.
    @Test func anotherCatchUpInBetween() async throws {
        let f = try LogFixture()
        let tailer = try f.index()
        try tailer.updater.catchUp()
        let other = try f.index()
        for i in 0..<10 { try await f.chat(user: "a\(i)") }
        try await f.chat(user: "still open", end: false)
        try other.catchUp()
        for i in 0..<10 { try await f.chat(user: "b\(i)") }
        let r = try tailer.updater.catchUp()
        #expect(r.records == 20, "the other's 21 records skipped, the next 20 applied")
        let rebuilt = try ExchangeIndex(indexPath: f.dir.indexPath + "-rebuilt", logDirectory: f.dir.logDirectory)
        defer { ExchangeIndex.removeFiles(f.dir.indexPath + "-rebuilt") }
        try rebuilt.rebuild()
        #expect(try rows(tailer) == rows(rebuilt))
        try await f.closeWriter()
    }
}
