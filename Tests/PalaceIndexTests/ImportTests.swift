import Testing
import PalaceLog
import PalaceWire
@testable import PalaceIndex
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ImportTests {
    /// A MoonPalace database in the pre-migration layout (later columns after created_at), latency in ns.
    func moonPalaceDB(_ path: String, rows: Int) throws {
        let db = try SQLiteConnection(path: path)
        try db.execute("""
            CREATE TABLE moonshot_requests (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, request_method TEXT NOT NULL,
              request_path TEXT NOT NULL, request_query TEXT NOT NULL, request_content_type TEXT, request_id TEXT,
              moonshot_id TEXT, moonshot_gid TEXT, moonshot_uid TEXT, moonshot_request_id TEXT, moonshot_server_timing INTEGER,
              response_status_code INTEGER, response_content_type TEXT, request_header TEXT, request_body TEXT,
              response_header TEXT, response_body TEXT, error TEXT, created_at TEXT NOT NULL);
            ALTER TABLE moonshot_requests ADD COLUMN latency INTEGER;
            """)
        for i in 1...rows {
            try db.run("""
                INSERT INTO moonshot_requests (id, request_method, request_path, request_query, moonshot_id, response_status_code,
                  response_content_type, request_body, response_body, created_at, latency)
                VALUES (?, 'POST', '/v1/chat/completions', '', ?, 200, 'application/json', ?, ?, ?, ?)
                """, [.integer(Int64(i * 10)), .text("chatcmpl-\(i)"),
                      .text(#"{"model":"moonshot-v1-8k","messages":[{"role":"user","content":"q\#(i)"}]}"#),
                      .text(#"{"id":"chatcmpl-\#(i)","choices":[{"index":0,"message":{"role":"assistant","content":"a"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#),
                      .text("2024-08-2\(i % 10) 10:00:00"), .integer(1_500_000_000)])
        }
    }

    @Test func importKeepsIdsAndTimesAndIsIdempotent() async throws {
        let f = try LogFixture()
        let source = f.dir.path + "/moonpalace.sqlite"
        try moonPalaceDB(source, rows: 12)
        #expect(MoonPalaceImport.hint(dataDirectory: f.dir.path) != nil)
        let idx = try f.index()
        try idx.catchUp()
        let imp = try MoonPalaceImport(sourcePath: source)
        #expect(try imp.rowCount() == 12)
        let w = try f.openWriter()
        let first = try await imp.run(index: idx, writer: w)
        #expect(first.imported == 12 && first.alreadyPresent == 0)
        try idx.catchUp()
        let second = try await imp.run(index: idx, writer: w)
        #expect(second.imported == 0 && second.alreadyPresent == 12)
        try await f.closeWriter()
        try idx.catchUp()
        let rows = try idx.list(ListQuery(limit: nil))
        #expect(rows.count == 12)
        let oldest = try #require(rows.last)
        #expect(oldest.latencyMs == 1500 && oldest.totalTokens == 4 && oldest.chatcmpl == "chatcmpl-1")
        #expect(ExportTime.local(oldest.startedAt) == "2024-08-21 10:00:00")
        let ex = try #require(try idx.exchange(id: oldest.id))
        #expect(ex.begin.flags.contains(.imported))
        #expect(ex.begin.meta.first { $0.name == "moonpalace_id" }?.value == "10")
        let meta = CaseExport.metadata(oldest, ex)
        #expect(meta["moonpalace_id"]?.stringValue == "10" && meta["requested_at"]?.stringValue == "2024-08-21 10:00:00")
    }

    @Test func foreignAndBrokenFilesAreRefusedBeforeWriting() throws {
        let f = try LogFixture()
        let foreign = f.dir.path + "/foreign.sqlite"
        try SQLiteConnection(path: foreign).execute("CREATE TABLE t (x)")
        #expect(throws: IndexError.self) { try MoonPalaceImport(sourcePath: foreign) }
        let junk = f.dir.path + "/junk.sqlite"
        let fd = open(junk, O_WRONLY | O_CREAT, 0o600)
        _ = write(fd, "this is not a database at all, just text padding padding padding padding", 70)
        close(fd)
        #expect(throws: IndexError.self) { try MoonPalaceImport(sourcePath: junk) }
        #expect(throws: IndexError.self) { try MoonPalaceImport(sourcePath: f.dir.path) }
    }
}
