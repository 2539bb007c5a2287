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

    /// Law: the `palace` tokenizer gives a raw document exactly the tokens (text and position) that
    /// `unicode61 remove_diacritics 2` gives the same document laid out by `CJKSegmenter` — the layout the index
    /// used before v4 and that queries still use. Checked on random mixes of ASCII, accented and other scripts,
    /// CJK (with the odd characters of its ranges: marks, middle dot, unassigned code points, 4-byte ideographs),
    /// fullwidth forms, emoji and malformed UTF-8, and on every character of the CJK ranges in runs.
    @Test func palaceTokenizerEqualsUnicode61OverTheLayout() throws {
        let db = try SQLiteConnection(path: ":memory:")
        try db.execute("""
            CREATE VIRTUAL TABLE a USING fts5(text, content = '', columnsize = 0, tokenize = 'palace remove_diacritics 2');
            CREATE VIRTUAL TABLE b USING fts5(text, content = '', columnsize = 0, tokenize = 'unicode61 remove_diacritics 2');
            CREATE VIRTUAL TABLE va USING fts5vocab(a, instance); CREATE VIRTUAL TABLE vb USING fts5vocab(b, instance);
            """)
        var rng = BodySkeletonTests.RNG(s: 2026_11_29)
        let pieces = ["Hello", " ", "WORLD", "café", "Ça", "naïve", "ñ", "，", "。", "月之暗面", "一", "・", "゛", "ー", "ア",
                      "\u{3099}", "\u{309A}", "が", "テスト", "\u{30A0}", "ｈｅｌｌｏ", "Ａ", "😀", "𠀀", "𪜶", "\u{9FFF}",
                      "\u{FA6E}", "豈", "Москва", "ß", "İ", "\u{301}", "e\u{301}", "x", "1234", "a_b", "-", "\n", "\u{A0}",
                      "\u{200B}", "ﬁ", "Ⅷ", "①", "\u{4DBF}", "\u{3400}", "ｶ", String(repeating: "A", count: 300),
                      String(repeating: "é", count: 200)].map { Array($0.utf8) }
        let malformed: [[UInt8]] = [[0xFF], [0xC3], [0xE4, 0xB8], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80]]
        let ranges: [ClosedRange<UInt32>] = [0x3040...0x30FF, 0x4E00...0x9FFF, 0x3400...0x4DBF, 0xF900...0xFAFF,
                                             0x20000...0x2FFFF, 0x80...0x2FFF]
        var docs: [[UInt8]] = []
        for _ in 0..<1500 {
            var d: [UInt8] = []
            for _ in 0..<rng.int(30) {
                switch rng.int(20) {
                case 0: d += rng.pick(malformed)
                case 1...4:
                    let r = rng.pick(ranges)
                    if let u = Unicode.Scalar(r.lowerBound + UInt32(rng.int(Int(r.upperBound - r.lowerBound) + 1))) {
                        d += Array(String(Character(u)).utf8)
                    }
                default: d += rng.pick(pieces)
                }
            }
            docs.append(d)
        }
        let all = [0x3040...0x30FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF].flatMap { $0 }
            .compactMap { Unicode.Scalar(UInt32($0)).map { Array(String(Character($0)).utf8) } }
        for k in stride(from: 0, to: all.count, by: 7) {
            docs.append(all[k..<min(k + 7, all.count)].flatMap { $0 } + Array(" a".utf8) + all[k..<min(k + 3, all.count)].flatMap { $0 })
        }
        try db.transaction {
            let ia = try db.prepare("INSERT INTO a (rowid, text) VALUES (?, ?)")
            let ib = try db.prepare("INSERT INTO b (rowid, text) VALUES (?, ?)")
            for (i, d) in docs.enumerated() {
                try ia.run(rowid: Int64(i + 1), text: d)
                try ib.run(rowid: Int64(i + 1), text: d.withUnsafeBufferPointer { u in
                    var out: [UInt8] = []
                    CJKSegmenter.layout(u, query: false, into: &out)
                    return out
                })
            }
        }
        let q = "SELECT hex(term) || ' ' || doc || ' ' || offset FROM "
        let a = Set(try db.query(q + "va").compactMap { $0[0].string })
        let b = Set(try db.query(q + "vb").compactMap { $0[0].string })
        #expect(a.count > 50_000)
        #expect(a == b, "only palace: \(a.subtracting(b).sorted().prefix(5)); only unicode61: \(b.subtracting(a).sorted().prefix(5))")
        // Queries are not laid out by the tokenizer (the Swift side does it): same tokens as unicode61.
        try db.execute("INSERT INTO a (rowid, text) VALUES (999999, 'zz 月之暗')")
        #expect(try db.query("SELECT rowid FROM a WHERE a MATCH '\"月之 之暗\"'").contains { $0[0].int64 == 999999 })
    }
}
