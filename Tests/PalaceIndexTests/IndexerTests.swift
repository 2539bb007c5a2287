import Testing
import PalaceLog
@testable import PalaceIndex
#if canImport(Glibc)
import Glibc
#endif

@Suite struct IndexerTests {
    @Test func listShowsExchangesNewestFirstWithTheirFields() async throws {
        let f = try LogFixture()
        let a = try await f.chat(model: "kimi-k2", user: "first", requestID: "req-a", chatcmpl: "chatcmpl-aaa")
        let b = try await f.chat(model: "moonshot-v1-8k", user: "second", status: 429, stream: true, finish: "length")
        try await f.closeWriter()
        let idx = try f.index()
        let report = try idx.catchUp()
        #expect(report.exchanges == 2)
        let rows = try idx.list(ListQuery())
        #expect(rows.map(\.id) == [Int64(b), Int64(a)])
        let rb = rows[0]
        #expect(rb.status == 429 && rb.stream && rb.model == "moonshot-v1-8k" && rb.finishReason == "length")
        #expect(rb.state == "complete" && rb.ttftMs == 150 && rb.latencyMs == 800 && rb.totalTokens == 46)
        #expect(rows[1].requestID == "req-a" && rows[1].chatcmpl == "chatcmpl-aaa" && rows[1].path == "/v1/chat/completions")
        #expect(try idx.find(id: nil, chatcmpl: "chatcmpl-aaa", requestID: nil) == Int64(a))
        #expect(try idx.find(id: nil, chatcmpl: nil, requestID: "req-a") == Int64(a))
        #expect(try idx.find(id: Int64(b), chatcmpl: "chatcmpl-aaa", requestID: nil) == nil)
        let ex = try #require(try idx.exchange(id: Int64(b)))
        #expect(String(decoding: ex.mergedResponseBody, as: UTF8.self).contains("chat.completion\""))
        #expect(String(decoding: ex.responseBody, as: UTF8.self).hasPrefix("data: "))
    }

    @Test func catchUpIsIncrementalAndPagingWorks() async throws {
        let f = try LogFixture()
        for i in 0..<25 { try await f.chat(user: "q\(i)") }
        let idx = try f.index()
        try idx.catchUp()
        #expect(try idx.list(ListQuery(limit: 0)).count == 25)
        for i in 0..<5 { try await f.chat(user: "late\(i)") }
        let r = try idx.catchUp()
        #expect(r.exchanges == 5)
        let page1 = try idx.list(ListQuery(limit: 10))
        let page2 = try idx.list(ListQuery(limit: 10, beforeID: page1.last!.id))
        #expect(page1.map(\.id) == Array((21...30).reversed()))
        #expect(page2.map(\.id) == Array((11...20).reversed()))
        try await f.closeWriter()
    }

    @Test func annotationsAndTombstonesAreApplied() async throws {
        let f = try LogFixture()
        let a = try await f.chat(user: "keep")
        let b = try await f.chat(user: "drop me")
        let idx = try f.index()
        try idx.catchUp()
        let w = try f.openWriter()
        _ = try await w.append(.annotation(Annotation(exchangeID: a, category: "badcase", addTags: ["x", "y"])))
        _ = try await w.append(.annotation(Annotation(exchangeID: a, removeTags: ["x"])))
        _ = try await w.append(.tombstone(Tombstone(exchangeIDs: [b], reason: "test")))
        try idx.catchUp()
        let rows = try idx.list(ListQuery())
        #expect(rows.map(\.id) == [Int64(a)])
        #expect(rows[0].category == "badcase" && rows[0].tags == ["y"])
        #expect(try idx.search("drop me", query: ListQuery()).isEmpty)
        // The same from scratch.
        try idx.rebuild()
        let again = try idx.list(ListQuery())
        #expect(again.map(\.id) == [Int64(a)] && again[0].tags == ["y"] && again[0].category == "badcase")
        #expect(try idx.list(ListQuery(predicates: ["category == 'badcase' && tags ~ 'y'"])).count == 1)
        try await f.closeWriter()
    }

    @Test func openExchangesAreInFlightWhileTheWriterLivesThenIncomplete() async throws {
        let f = try LogFixture()
        try await f.chat(user: "done")
        let open = try await f.chat(user: "never ends", end: false)
        let idx = try f.index()
        try idx.catchUp()
        #expect(try idx.summary(id: Int64(open))?.state == "in_flight")
        #expect(try idx.list(ListQuery(predicates: ["state == 'in_flight'"])).map(\.id) == [Int64(open)])
        try await f.closeWriter()
        try idx.catchUp()
        #expect(try idx.summary(id: Int64(open))?.state == "incomplete")
    }

    @Test func anEndAfterARestartFindsItsBeginInTheLog() async throws {
        let f = try LogFixture()
        let w = try f.openWriter()
        let begin = ExchangeBegin(startedAt: 1, method: "POST", target: "/v1/chat/completions?x=1", endpoint: "e",
                                  requestBody: Array(#"{"model":"m","messages":[{"role":"user","#.utf8), requestBodyComplete: false)
        let (id, _) = try await w.appendBegin(begin)
        _ = try await w.append(.chunk(ExchangeChunk(exchangeID: id, direction: .request, offset: 33,
                                                    bytes: Array(#""content":"split body"}]}"#.utf8))))
        try f.index().catchUp()        // sees begin + chunk only, then goes away
        var e = ExchangeEnd(exchangeID: id, endedAt: 2, status: 200)
        e.responseBody = Array(#"{"choices":[{"message":{"content":"ok"}}]}"#.utf8)
        _ = try await w.append(.end(e))
        let idx = try f.index()
        try idx.catchUp()
        let s = try #require(try idx.summary(id: Int64(id)))
        #expect(s.state == "complete" && s.model == "m" && s.query == "x=1" && s.path == "/v1/chat/completions")
        #expect(try idx.list(ListQuery(predicates: ["request_body.messages.0.content == 'split body'"])).count == 1)
        #expect(try idx.search("split body", query: ListQuery()).count == 1)
        try await f.closeWriter()
    }
}
