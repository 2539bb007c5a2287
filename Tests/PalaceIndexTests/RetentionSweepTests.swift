import Testing
import PalaceLog
@testable import PalaceIndex
#if canImport(Glibc)
import Glibc
#endif

/// Retention deletes whole log segments behind the index's back; the next catch-up forgets their exchanges.
@Suite struct RetentionSweepTests {
    /// A fixture whose writer rolls a new segment every few exchanges.
    static func smallSegments() throws -> LogFixture {
        let f = try LogFixture()
        f.writer = try LogWriter.open(directory: f.dir.logDirectory,
                                      options: LogWriterOptions(syncPolicy: .none, segmentMaxBytes: 2048))
        return f
    }

    /// The ids whose begin record is still in the log, read from the log itself.
    static func idsInLog(_ f: LogFixture) throws -> Set<Int64> {
        var ids = Set<Int64>()
        for r in try LogReader(directory: f.dir.logDirectory).records() {
            if case .begin(let b) = r.record { ids.insert(Int64(b.exchangeID)) }
        }
        return ids
    }

    static func removeOldestSegments(_ f: LogFixture, keeping: Int) throws -> [UInt64] {
        let bases = try LogReader(directory: f.dir.logDirectory).segments()
        var size: UInt64 = 0
        for b in bases.suffix(keeping) {
            var st = stat()
            _ = stat(f.dir.logDirectory + "/" + SegmentName.fileName(for: b), &st)
            size += UInt64(st.st_size)
        }
        return try LogRetention.apply(directory: f.dir.logDirectory, policy: .init(maxTotalBytes: size))
    }

    @Test func rowsOfRemovedSegmentsLeaveListSearchAndInspect() async throws {
        let f = try Self.smallSegments()
        for i in 1...40 { try await f.chat(user: "question number \(i) about zebra\(i)", answer: "answer \(i)") }
        try await f.closeWriter()
        let notices = NoticeBox()
        let idx = try f.index(notices: notices)
        try idx.catchUp()
        #expect(try idx.list(ListQuery(limit: 100)).count == 40)
        #expect(try LogReader(directory: f.dir.logDirectory).segments().count >= 4)

        let removed = try Self.removeOldestSegments(f, keeping: 2)
        #expect(!removed.isEmpty)
        let kept = try Self.idsInLog(f)
        #expect(kept.count < 40 && !kept.contains(1))

        try idx.catchUp()
        let listed = Set(try idx.list(ListQuery(limit: 100)).map(\.id))
        #expect(listed == kept)
        #expect(try idx.summary(id: 1) == nil)
        #expect(try idx.search("zebra1", query: ListQuery(limit: 10)).isEmpty)
        #expect(idx.removedFromLog(id: 1)?.contains("no longer in the log") == true)
        let firstKept = kept.min()!
        #expect(idx.removedFromLog(id: firstKept) == nil)
        // Every exchange still listed can be loaded from the log.
        for id in listed { #expect(try idx.exchange(id: id) != nil) }
        // Nothing was rebuilt: a sweep, not "ahead of the log".
        #expect(!notices.all.contains { $0.contains("ahead") }, "\(notices.all)")
        // A second catch-up has nothing to do.
        #expect(try idx.sweepRemovedSegments() == 0)
    }

    @Test func lastRecordReadInARemovedSegmentCarriesOnWithoutRebuild() async throws {
        let f = try Self.smallSegments()
        for i in 1...10 { try await f.chat(user: "early \(i)") }
        let notices = NoticeBox()
        let idx = try f.index(notices: notices)
        try idx.catchUp()
        // Much more traffic the index has not read yet, then retention removes the segment it last read.
        for i in 1...40 { try await f.chat(user: "late \(i)") }
        try await f.closeWriter()
        _ = try Self.removeOldestSegments(f, keeping: 2)
        try idx.catchUp()
        #expect(!notices.all.contains { $0.contains("ahead") }, "\(notices.all)")
        let listed = Set(try idx.list(ListQuery(limit: 100)).map(\.id))
        #expect(listed == (try Self.idsInLog(f)))
        // The same rows a rebuild gives.
        try idx.rebuild()
        #expect(Set(try idx.list(ListQuery(limit: 100)).map(\.id)) == listed)
    }

    @Test func openExchangeWhoseBeginWasRemovedDoesNotComeBack() async throws {
        let f = try Self.smallSegments()
        let w = try f.openWriter()
        let open = try await f.chat(user: "long stream", end: false)
        for i in 1...40 { try await f.chat(user: "meanwhile \(i)") }
        let idx = try f.index()
        try idx.catchUpWhileWriting()   // the tailer: the open exchange is held in memory, written in flight
        #expect(try idx.summary(id: Int64(open))?.state == "in_flight")
        _ = try Self.removeOldestSegments(f, keeping: 2)
        // The end arrives after retention removed the begin.
        var e = ExchangeEnd(exchangeID: open, endedAt: TimeExpression.nowMicros(), status: 200)
        e.responseBody = Array("{}".utf8)
        _ = try await w.append(.end(e))
        for i in 1...3 { try await f.chat(user: "after \(i)") }
        try idx.catchUpWhileWriting()
        #expect(try idx.summary(id: Int64(open)) == nil)
        #expect(Set(try idx.list(ListQuery(limit: 100)).map(\.id)) == (try Self.idsInLog(f)))
        try await f.closeWriter()
    }
}
