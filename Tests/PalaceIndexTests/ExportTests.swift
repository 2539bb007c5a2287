import Testing
import PalaceLog
import PalaceWire
@testable import PalaceIndex
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ExportTests {
    @Test func redactorMasksKeysTokensAndSecretMembersButNotOrdinaryText() throws {
        let r = Redactor.standard
        #expect(r.text("key sk-abcdefghijklmnopqrstu9876 end") == "key sk-" + String(repeating: "*", count: 21) + "9876 end")
        #expect(r.text("Authorization: Bearer abcdefgh12345678") == "Authorization: Bearer ************5678")
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghij"
        #expect(!r.text("t=\(jwt)").contains("eyJhbGci"))
        #expect(r.text("ask-me sk-short max_tokens=512 desk-lamp") == "ask-me sk-short max_tokens=512 desk-lamp")
        let v = try JSONValue.parse(#"{"api_key":"abcdef123456","max_tokens":512,"nested":{"password":"hunter22"},"text":"ok"}"#)
        let masked = r.json(v).serialized()
        #expect(masked == #"{"api_key":"********3456","max_tokens":512,"nested":{"password":"****er22"},"text":"ok"}"#)
        #expect(r.header(HeaderField(name: "X-Api-Key", value: "plainvalue1234")).value == "**********1234")
        #expect(r.header(HeaderField(name: "Authorization", value: "Bearer ****abcd")).value == "Bearer ****abcd")
        #expect(Redactor.none.text("sk-abcdefghijklmnopqrstu9876") == "sk-abcdefghijklmnopqrstu9876")
        let extra = try Redactor(extraPatterns: ["TICKET-[0-9]+", "^secret"])
        #expect(extra.text("secret TICKET-42 and TICKET-7") == "****** ********* and ********")
        #expect(throws: IndexError.self) { try Redactor(extraPatterns: ["([unclosed"]) }
    }

    @Test func fileNamesFollowMoonPalaceAndRefuseEscapes() async throws {
        let f = try LogFixture()
        let chat = try await f.chat(chatcmpl: "chatcmpl-xyz")
        let evil = try await f.chat(chatcmpl: "../../etc/passwd")
        try await f.closeWriter()
        let idx = try f.index()
        try idx.catchUp()
        var s = try #require(try idx.summary(id: Int64(chat)))
        #expect(try CaseExport.fileName(s) == "chatcmpl-xyz.json")
        s.path = "/v1/files"
        s.method = "GET"
        #expect(try CaseExport.fileName(s) == "requestid-req-\(chat).json")
        s.requestID = nil
        s.userID = "u1"
        #expect(try CaseExport.fileName(s) == "get-files-u1-\(ExportTime.compact(s.startedAt)).json")
        let e = try #require(try idx.summary(id: Int64(evil)))
        #expect(throws: IndexError.self) { try CaseExport.fileName(e) }
    }

    @Test func caseJSONHasMoonPalaceKeysInOrder() async throws {
        let f = try LogFixture()
        let id = try await f.chat(user: "hi <b>&</b>", stream: true, failure: nil)
        try await f.closeWriter()
        let idx = try f.index()
        try idx.catchUp()
        let s = try #require(try idx.summary(id: Int64(id))), ex = try #require(try idx.exchange(id: Int64(id)))
        let text = String(decoding: CaseExport.caseJSON(s, ex, redactor: .standard), as: UTF8.self)
        #expect(text.hasSuffix("}\n") && text.contains("\n    \"metadata\": {"))
        let v = try JSONValue.parse(text)
        #expect(v.objectValue?.keys == ["metadata", "request", "response"])
        #expect(v["response"]?["body"]?.stringValue?.hasPrefix("data: ") == true)
        let merged = try JSONValue.parse(CaseExport.caseJSON(s, ex, redactor: .standard, streamBody: .merged))
        #expect(merged["response"]?["body"]?["object"]?.stringValue == "chat.completion")
        let escaped = String(decoding: CaseExport.caseJSON(s, ex, redactor: .standard, escapeHTML: true), as: UTF8.self)
        #expect(escaped.contains("\\u003cb\\u003e\\u0026") && !escaped.contains("<b>"))
        #expect(v["metadata"]?["status"]?.stringValue == "200 OK")
    }

    @Test func batchExportChunksFormValidDocumentsAcrossPages() async throws {
        let f = try LogFixture()
        var ids: [UInt64] = []
        for i in 0..<(BatchExport.pageSize + 25) {
            ids.append(try await f.chat(user: "q\(i)", status: i % 10 == 0 ? 500 : 200, stream: i % 3 == 0))
        }
        try await f.closeWriter()
        let idx = try f.index()
        try idx.catchUp()
        func collect(_ format: ExportFormat, _ q: ListQuery) throws -> (String, BatchExport) {
            let e = BatchExport(index: idx, query: q, format: format, redactor: .standard)
            var out: [UInt8] = []
            while let c = try e.nextChunk() { out += c }
            return (String(decoding: out, as: UTF8.self), e)
        }
        let (jsonl, e1) = try collect(.jsonl, ListQuery(limit: nil))
        let lines = jsonl.split(separator: "\n")
        #expect(lines.count == ids.count && e1.exported == ids.count)
        #expect(try lines.map { try JSONValue.parse(String($0))["id"]?.intValue } == ids.reversed().map { Int($0) })
        let (har, _) = try collect(.har, ListQuery(limit: 30, predicates: ["status == 500"]))
        let entries = try JSONValue.parse(har)["log"]?["entries"]?.arrayValue ?? []
        #expect(entries.count == 30 && entries.allSatisfy { $0["response"]?["status"]?.intValue == 500 })
        // Many pipeline groups: one document, every entry once, in order.
        let (harAll, eh) = try collect(.har, ListQuery(limit: nil))
        let all = try JSONValue.parse(harAll)["log"]?["entries"]?.arrayValue ?? []
        #expect(all.count == ids.count && eh.exported == ids.count)
        #expect(all.map { $0["_id"]?.intValue } == ids.reversed().map { Int($0) })
        // Dropped after its first chunk: the pipeline stops (no hang, no crash) and the index is free again.
        do {
            let dropped = BatchExport(index: idx, query: ListQuery(limit: nil), format: .jsonl, redactor: .standard)
            #expect(try dropped.nextChunk()?.isEmpty == false)
        }
        let (again, _) = try collect(.jsonl, ListQuery(limit: nil))
        #expect(again == jsonl)
        let (empty, _) = try collect(.har, ListQuery(limit: nil, predicates: ["status == 999"]))
        #expect(try JSONValue.parse(empty)["log"]?["entries"]?.arrayValue?.isEmpty == true)
        let (chat, e3) = try collect(.openaiChat, ListQuery(limit: 40))
        #expect(chat.split(separator: "\n").count == e3.exported && e3.exported + e3.skipped == 40 && e3.skipped > 0)
        let e4 = BatchExport(index: idx, query: ListQuery(limit: nil, predicates: ["status == 200"]), format: .json,
                             redactor: .standard)
        #expect(try e4.count() == ids.count - (ids.count + 9) / 10)
    }

    @Test func localTimesRoundTrip() {
        let t: Int64 = 1_724_223_845_000_000
        #expect(ExportTime.parseLocal(ExportTime.local(t)) == t)
        #expect(ExportTime.parseLocal("2024-08-21T07:04:05Z") == t)
        #expect(ExportTime.parseLocal("2024-08-21 15:04:05.250+08:00") == t + 250_000)
        #expect(ExportTime.iso(t + 7_000) == "2024-08-21T07:04:05.007Z")
        #expect(ExportTime.parseLocal("yesterday") == nil && ExportTime.parseLocal("2024-13-01 00:00:00") == nil)
    }

    @Test func atomicOutputNeverLeavesAPartialFile() throws {
        var template = Array("/tmp/palace-atomic-XXXXXX".utf8CString)
        let dir = String(cString: template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }!)
        defer { _ = system("rm -rf '\(dir)'") }
        let out = try AtomicOutput(path: dir + "/x.jsonl", overwrite: false)
        try out.write(Array("half".utf8))
        #expect(access(dir + "/x.jsonl", F_OK) != 0)
        out.abort()
        #expect(access(dir + "/x.jsonl", F_OK) != 0 && access(out.tempPath, F_OK) != 0)
        let ok = try AtomicOutput(path: dir + "/x.jsonl", overwrite: false)
        try ok.write(Array("whole\n".utf8))
        try ok.commit()
        #expect(access(dir + "/x.jsonl", F_OK) == 0)
        #expect(throws: IndexError.self) { try AtomicOutput(path: dir + "/x.jsonl", overwrite: false) }
    }

    /// Several MiB in pieces of every size: whole 1 MiB blocks go out with O_DIRECT (where the file system has it),
    /// the tail after clearing it; the file holds exactly the bytes written.
    @Test func atomicOutputWritesLargeFilesExactly() throws {
        var template = Array("/tmp/palace-atomic-XXXXXX".utf8CString)
        let dir = String(cString: template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }!)
        defer { _ = system("rm -rf '\(dir)'") }
        var expected: [UInt8] = []
        let out = try AtomicOutput(path: dir + "/big.jsonl", overwrite: false)
        var seed: UInt64 = 9
        for size in [1, 4095, 300_000, 1 << 20, 7, 2_000_001, 65_536, 12_345] {
            var piece = [UInt8](repeating: 0, count: size)
            for i in 0..<size { seed = seed &* 6364136223846793005 &+ 1; piece[i] = UInt8(truncatingIfNeeded: seed >> 33) }
            try out.write(piece)
            expected += piece
        }
        try out.commit()
        let fd = open(dir + "/big.jsonl", O_RDONLY)
        defer { close(fd) }
        var got = [UInt8](repeating: 0, count: expected.count + 10)
        var n = 0
        while true {
            let k = got.withUnsafeMutableBytes { read(fd, $0.baseAddress! + n, $0.count - n) }
            if k <= 0 { break }
            n += k
        }
        #expect(n == expected.count)
        #expect(Array(got[0..<n]) == expected)
    }
}
