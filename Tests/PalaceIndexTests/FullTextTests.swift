import Testing
@testable import PalaceIndex

@Suite struct FullTextTests {
    @Test func findsChineseAndEnglishWithSnippets() async throws {
        let f = try LogFixture()
        let zh = try await f.chat(user: "请解释一下月之暗面的长文本能力", answer: "月之暗面的 Kimi 支持超长上下文。")
        let en = try await f.chat(user: "How do I reverse a linked list?", answer: "Walk the list and flip each pointer.")
        let both = try await f.chat(user: "Translate 你好世界 to English", answer: "Hello, world")
        try await f.closeWriter()
        let idx = try f.index()
        try idx.catchUp()
        #expect(try idx.search("月之暗面", query: ListQuery()).map(\.summary.id) == [Int64(zh)])
        #expect(try idx.search("LINKED LIST", query: ListQuery()).map(\.summary.id) == [Int64(en)])
        #expect(try idx.search("flip each", query: ListQuery()).first?.snippet.contains("[flip each]") == true)
        #expect(try idx.search("你好", query: ListQuery()).map(\.summary.id) == [Int64(both)], "two characters: one bigram")
        #expect(try idx.search("界", query: ListQuery()).map(\.summary.id) == [Int64(both)], "one character at a run's end")
        #expect(try idx.search("长", query: ListQuery()).map(\.summary.id) == [Int64(zh)], "one character inside a run")
        #expect(try idx.search("你好世界 to", query: ListQuery()).map(\.summary.id) == [Int64(both)], "CJK run then a word")
        #expect(try idx.search("好世界 to english", query: ListQuery()).map(\.summary.id) == [Int64(both)])
        #expect(try idx.search("你好 to", query: ListQuery()).isEmpty, "the run goes on in the text: not a phrase match")
        #expect(try idx.search("link", query: ListQuery()).map(\.summary.id) == [Int64(en)], "the last word is a prefix")
        #expect(try idx.search("世界", query: ListQuery()).first?.snippet.contains("[世界]") == true)
        #expect(try idx.search("hello", query: ListQuery()).map(\.summary.id) == [Int64(both)])
        #expect(try idx.search("nothing like this", query: ListQuery()).isEmpty)
        #expect(try idx.search("   ", query: ListQuery()).isEmpty)
        // FTS syntax in the text is literal.
        #expect(try idx.search("\" OR x*", query: ListQuery()).isEmpty)
        #expect(try idx.search("50%", query: ListQuery()).isEmpty)
        // Combined with predicates and list --text.
        #expect(try idx.list(ListQuery(predicates: ["id > \(zh)"], text: "t")).map(\.id) == [Int64(both), Int64(en)])
        #expect(try idx.list(ListQuery(limit: 1, text: "t")).map(\.id) == [Int64(both)])
    }
}
