import Testing
@testable import PalaceIndex

/// User text never becomes SQL text: quotes, statement terminators, comments and huge literals are values.
@Suite struct InjectionTests {
    static func fixture() throws -> PredicateFixture {
        let f = try PredicateFixture()
        try f.insert(id: 1, model: "it's")
        try f.insert(id: 2, model: "'; DROP TABLE exchanges; --")
        try f.insert(id: 3, model: #"back\slash"#)
        try f.insert(id: 4, model: "kimi")
        return f
    }

    @Test func quotesAndTerminatorsAreValues() throws {
        let f = try Self.fixture()
        #expect(try f.select([#"model == "it's""#]) == [1])
        #expect(try f.select([#"model == "'; DROP TABLE exchanges; --""#]) == [2])
        #expect(try f.select(["model == \"x' OR '1'='1\""]) == [])
        #expect(try f.select(["model ~ \"'\""]) == [2, 1])
        #expect(try f.select([#"model == 'back\slash'"#]) == [3])
        #expect(try f.select(["model == 'kimi' || model == '\" OR 1=1 --'"]) == [4])
        #expect(try f.db.scalar("SELECT count(*) FROM exchanges")?.int64 == 4)
    }

    @Test func compiledSQLContainsNoUserText() throws {
        let evil = "zz'); DELETE FROM exchanges; SELECT ('"
        let plan = try PredicatePlan.compile(["model == \"\(evil)\" || request_body.messages.0.content ~ 'qq\\'x'"])
        #expect(!plan.indexWhere.text.contains("zz"))
        #expect(!plan.indexWhere.text.contains("qq"))
        #expect(!plan.residualWhere.text.contains("DELETE"))
        #expect(!plan.indexWhere.text.contains("messages"), "JSON paths are bound too")
        #expect(plan.indexWhere.params.contains(.text(evil)))
    }

    @Test func hugeLiteralsWork() throws {
        let f = try Self.fixture()
        let big = String(repeating: "x", count: 200_000)
        #expect(try f.select(["model == '\(big)'"]) == [])
        #expect(try f.select(["id < \(String(repeating: "9", count: 400))"]) == [4, 3, 2, 1])
        let list = (0..<5000).map(String.init).joined(separator: ", ")
        #expect(try f.select(["id @ [\(list)]"]) == [4, 3, 2, 1])
        let deep = String(repeating: "(", count: 200) + "id == 4" + String(repeating: ")", count: 200)
        #expect(try f.select([deep]) == [4])
    }
}
