import Testing
import PalaceLog
@testable import PalaceIndex
#if canImport(Glibc)
import Glibc
#endif

/// The tailer in `start` indexes the records its own log writer hands over (`AppendFeed`) instead of reading them
/// back from the log: the index it builds is the one a rebuild from the log builds.
@Suite struct HandoverTests {
    /// Every stored column of every row, in id order (rowids of the full text are compared by search below).
    func rows(_ index: ExchangeIndex) throws -> [[SQLiteValue]] {
        try index.db.query("SELECT * FROM exchanges ORDER BY id")
    }

    func searchIDs(_ index: ExchangeIndex, _ words: [String]) throws -> [[Int64]] {
        try words.map { try index.ids(ListQuery(limit: 0, text: $0)) }
    }

    /// Catch-ups between writes, with exchanges open across them, streams, failures, annotations and a tombstone;
    /// records from before the subscription come from the log, the rest from the feed, and a feed that overflowed
    /// is filled in from the log. Same rows and full text as a rebuild.
    @Test func handedOverRecordsIndexLikeARebuild() async throws {
        let f = try LogFixture()
        let writer = try f.openWriter()
        for i in 0..<5 { try await f.chat(user: "before the feed \(i)", answer: "old answer \(i)") }
        let open = try await f.chat(user: "open across catch-ups", end: false)
        let feed = writer.subscribe(maxBytes: 64 << 10)
        let tailer = try f.index()
        tailer.updater.feed = feed
        try tailer.markInFlightAsIncomplete()

        var first = try tailer.updater.catchUp()
        #expect(first.records == 11 && first.handedOver == 0, "nothing handed over yet: all from the log")
        var handedOver = 0, fromLog = 0
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
                // The consumer falls behind: more than the feed holds, so it drops them and the log fills the gap.
                for i in 0..<60 { try await f.chat(user: "burst \(i) " + String(repeating: "lunar ", count: 200)) }
                #expect(feed.dropped > 0)
            }
            let r = try tailer.updater.catchUp()
            handedOver += r.handedOver
            fromLog += r.records - r.handedOver
            first.records += r.records
        }
        var end = ExchangeEnd(exchangeID: open, endedAt: TimeExpression.nowMicros(), status: 200)
        end.responseBody = Array(#"{"choices":[{"message":{"content":"finally"}}]}"#.utf8)
        _ = try await writer.append(.end(end))
        let last = try tailer.updater.catchUp()
        handedOver += last.handedOver
        #expect(last.handedOver == 1)
        #expect(handedOver > 50, "most records were handed over")
        #expect(fromLog > 0, "the dropped ones were read from the log")

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

    /// Another process (a CLI read command) catches up between the tailer's catch-ups: the tailer skips the
    /// handed-over records that are already indexed and applies the rest exactly once.
    @Test func anotherCatchUpInBetween() async throws {
        let f = try LogFixture()
        let writer = try f.openWriter()
        let feed = writer.subscribe()
        let tailer = try f.index()
        tailer.updater.feed = feed
        let other = try f.index()
        for i in 0..<10 { try await f.chat(user: "a\(i)") }
        try await f.chat(user: "still open", end: false)
        try other.catchUp()
        for i in 0..<10 { try await f.chat(user: "b\(i)") }
        let r = try tailer.updater.catchUp()
        #expect(r.records == 20 && r.handedOver == 20, "the other's 21 records skipped, the next 20 handed over")
        let rebuilt = try ExchangeIndex(indexPath: f.dir.indexPath + "-rebuilt", logDirectory: f.dir.logDirectory)
        defer { ExchangeIndex.removeFiles(f.dir.indexPath + "-rebuilt") }
        try rebuilt.rebuild()
        #expect(try rows(tailer) == rows(rebuilt))
        try await f.closeWriter()
    }
}
