import Testing
import PalaceLog
@testable import PalaceIndex
#if canImport(Glibc)
import Glibc
#endif

/// The index repairs itself: missing, damaged, newer-schema and ahead-of-log files are rebuilt with one notice.
@Suite struct RepairTests {
    @Test func missingIndexIsBuiltWithANotice() async throws {
        let f = try LogFixture()
        try await f.chat()
        try await f.closeWriter()
        let notices = NoticeBox()
        let idx = try f.index(notices: notices)
        try idx.catchUp()
        #expect(notices.all.count == 1 && notices.all[0].contains("missing"))
        #expect(try idx.list(ListQuery()).count == 1)
    }

    @Test func corruptIndexIsRebuiltWithANotice() async throws {
        let f = try LogFixture()
        try await f.chat(); try await f.chat()
        try await f.closeWriter()
        try f.index().catchUp()
        let fd = open(f.dir.indexPath, O_WRONLY | O_TRUNC)
        _ = "this is not a database, just garbage bytes...".withCString { write(fd, $0, 40) }
        close(fd)
        unlink(f.dir.indexPath + "-wal"); unlink(f.dir.indexPath + "-shm")
        let notices = NoticeBox()
        let idx = try f.index(notices: notices)
        try idx.catchUp()
        #expect(notices.all.count == 1 && notices.all[0].contains("damaged"), "\(notices.all)")
        #expect(try idx.list(ListQuery()).count == 2)
    }

    @Test func newerSchemaIsRebuilt() async throws {
        let f = try LogFixture()
        try await f.chat()
        try await f.closeWriter()
        try f.index().catchUp()
        let db = try SQLiteConnection(path: f.dir.indexPath)
        try db.execute("PRAGMA user_version = 99")
        let notices = NoticeBox()
        let idx = try f.index(notices: notices)
        try idx.catchUp()
        #expect(notices.all.first?.contains("newer") == true)
        #expect(try idx.list(ListQuery()).count == 1)
    }

    @Test func indexAheadOfARestoredLogIsRebuilt() async throws {
        let f = try LogFixture()
        try await f.chat(user: "one")
        try await f.closeWriter()
        _ = system("cp -r '\(f.dir.logDirectory)' '\(f.dir.path)/backup'")
        try await f.chat(user: "two"); try await f.chat(user: "three")
        try await f.closeWriter()
        try f.index().catchUp()
        // Restore the older log: the index has read records that no longer exist.
        _ = system("rm -rf '\(f.dir.logDirectory)' && mv '\(f.dir.path)/backup' '\(f.dir.logDirectory)'")
        let notices = NoticeBox()
        let idx = try f.index(notices: notices)
        try idx.catchUp()
        #expect(notices.all.count == 1 && notices.all[0].contains("ahead"), "\(notices.all)")
        #expect(try idx.list(ListQuery()).count == 1)
    }
}
