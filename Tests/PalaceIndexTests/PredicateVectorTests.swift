import Testing
@testable import PalaceIndex

/// Reference §11.4: every good vector selects the rows its SQL meaning selects; every bad one is rejected with a
/// caret at a column. Run twice: with JSON skeletons in the index (pushdown) and without (residual decides).
@Suite struct PredicateVectorTests {
    static func fixture(skeleton: Bool) throws -> PredicateFixture {
        let f = try PredicateFixture()
        let nested = "[" + (0..<15).map { $0 == 14 ? "{\"role\":\"user\"}" : "{}" }.joined(separator: ",") + "]"
        try f.insert(id: 1, status: 200,
                     requestBody: #"{"messages":[{"role":"system","content":"a"},{"role":"user","content":"q"}]}"#,
                     responseBody: "data: hello", responseHeader: "Msh-Context-Cache-Token-Saved: 123\r\n", skeleton: skeleton)
        try f.insert(id: 2, status: 400,
                     requestBody: #"{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}]}"#,
                     responseBody: #"{"error":1}"#, responseHeader: "Content-Type: application/json\r\n", skeleton: skeleton)
        try f.insert(id: 3, status: nil, requestBody: "not json", responseBody: nil, skeleton: skeleton)
        try f.insert(id: 4, status: 401, requestBody: "{\"messages\":[\(nested),{},{}]}", responseBody: "", skeleton: skeleton)
        try f.insert(id: 5, status: 200, requestBody: "{}", responseBody: "xxdata*:yy", skeleton: skeleton)
        try f.insert(id: 6, status: 200, responseBody: "*data:", skeleton: skeleton)
        try f.insert(id: 7, status: 200, responseBody: "data:*zzz", skeleton: skeleton)
        try f.insert(id: 8, status: 404, responseBody: "the DATA:", skeleton: skeleton)
        try f.insert(id: 9, status: 403, responseBody: "{}", skeleton: skeleton)
        return f
    }

    static let good: [(String, Set<Int64>)] = [
        (#"request_body.messages.0.role == "system""#, [1]),
        ("request_body.messages.-1.role == 'user'", [1]),
        ("request_body.messages.-3.14.role == 'user'", [4]),
        ("response_status_code == 200", [1, 5, 6, 7]),
        ("`response_status_code` == 200", [1, 5, 6, 7]),
        ("response_status_code == null", [3]),
        ("response_status_code != null", [1, 2, 4, 5, 6, 7, 8, 9]),
        ("response_status_code >= 200.00", [1, 2, 4, 5, 6, 7, 8, 9]),
        ("response_body ~ 'data:'", [1, 6, 7, 8]),
        ("response_body !~ 'data:'", [2, 4, 5, 9]),
        ("response_body ~ 'data*:'", [5]),
        ("response_body ~ '*data:'", [6, 8]),
        ("response_body ~ '**data:'", [6]),
        ("response_body ~ 'data:*'", [1, 7]),
        ("response_body ~ 'data:**'", [7]),
        ("response_body % '^data.*$'", [1, 7]),
        ("response_body !% '^data.*$'", [2, 4, 5, 6, 8, 9]),
        ("response_status_code @ [400, 401, '403', 404, false]", [2, 4, 8, 9]),
        ("response_status_code @ [400]", [2]),
        ("response_status_code !@ [400, 401, '403', 404]", [1, 5, 6, 7]),
        ("request_body.messages.0.role == 'system' && response_status_code == 200", [1]),
        ("request_body.messages.0.role == 'user' && ( response_status_code == 400 || response_status_code == 401 )", [2]),
        (#"response_header % "Msh-Context-Cache-Token-Saved: \d+""#, [1]),
        ("status = = 200 || status ! = 200 & & status == 400", [1, 2, 5, 6, 7]),
        ("status == 400 || status == 200 && response_body ~ 'data:*'", [1, 2, 7]),
        ("(status == 400 || status == 200) && response_body ~ 'data:*'", [1, 7]),
        ("status == true", []),
        ("status > 200 && status < 404", [2, 4, 9]),
    ]

    @Test(arguments: [true, false])
    func goodVectorsSelectTheRightRows(skeleton: Bool) throws {
        let f = try Self.fixture(skeleton: skeleton)
        for (p, want) in Self.good {
            let got = try f.select([p])
            #expect(Set(got) == want, "\(p)")
            #expect(got == got.sorted(by: >), "newest first: \(p)")
            #expect(Set(try f.fullScan([p])) == want, "full scan: \(p)")
        }
    }

    @Test func severalPredicatesAreAnded() throws {
        let f = try Self.fixture(skeleton: true)
        #expect(try f.select(["status >= 200", "response_body ~ 'data:*'"]) == [7, 1])
        #expect(try f.select(["status >= 200"], limit: 2) == [9, 8])
    }

    static let bad: [(String, Int, String)] = [
        ("response_status_code = 200", 22, "single '='"),
        ("3.14.role == 'user'", 1, "expected a field name"),
        ("status == 200 & status == 400", 15, "single '&'"),
        ("status == 200 | status == 400", 15, "single '|'"),
        ("response_status_code ~ 200", 24, "quoted string pattern"),
        ("response_status_code % 200", 24, "quoted string pattern"),
        ("response_status_code @ (400, 401)", 24, "expected '['"),
        ("response_status_code @ [401, '403', null, false]", 37, "NULL is not allowed"),
        ("response_header ~ 'pytest''", 27, "unterminated"),
        ("status ==", 10, "expected a value"),
        ("nosuchfield == 1", 1, "unknown field"),
        ("status.x == 1", 1, "no sub-fields"),
        ("(status == 1", 13, "expected ')'"),
        ("status == 1)", 12, "unbalanced"),
        ("status > null", 10, "NULL can only"),
        ("requested_at ~ 'x'", 14, "is a time"),
        ("requested_at > 5", 16, "is a time"),
        ("response_body % '(['", 17, "invalid regular expression"),
        ("", 1, "empty"),
        ("status == 1 status == 2", 13, "expected '&&'"),
        ("status == 'a' ; x", 15, "expected '&&'"),
    ]

    @Test func badVectorsAreRejectedWithACaret() throws {
        for (p, column, fragment) in Self.bad {
            do {
                _ = try PredicatePlan.compile([p])
                Issue.record("accepted: \(p)")
            } catch {
                #expect(error.column == column, "\(p): \(error.description)")
                #expect(error.message.contains(fragment), "\(p): \(error.message)")
                let lines = error.description.split(separator: "\n", omittingEmptySubsequences: false)
                #expect(lines.count == 3)
                #expect(lines.last.map { $0.count } == column + 2, "caret under column \(column): \(p)")
            }
        }
    }

    @Test func caretCountsWideCharactersAsTwoCells() throws {
        do { _ = try PredicatePlan.compile(["model == '模型' &"]) } catch {
            #expect(error.column == 15)
            #expect(error.description.hasSuffix("\n  " + String(repeating: " ", count: 16) + "^"))
        }
    }

    @Test func astOfAMultiLinePredicate() throws {
        let p = """
            (request_path ~ '*/chat/completions' && response_status_code @ [200, 204])
              || (request_header % '^pytest-.*?$' && (response_body ~ 'fingerprint=*'
              || moonshot_id != null))
            """
        let node = try PredicateParser.parse(p)
        guard case .or(let terms) = node, terms.count == 2, case .and(let right) = terms[1], right.count == 2,
              case .or = right[1] else { Issue.record("shape: \(node)"); return }
        #expect(node.comparisons.count == 5)
        #expect(node.comparisons[1].values == [.number("200"), .number("204")])
        #expect(node.comparisons[4].op == .isNotNull)
    }

    @Test func likeStarRules() {
        #expect(LikePattern.sql("data:") == "%data:%")
        #expect(LikePattern.sql("data*:") == "%data*:%")
        #expect(LikePattern.sql("*data:") == "%data:")
        #expect(LikePattern.sql("**data:") == "%*data:")
        #expect(LikePattern.sql("data:*") == "data:%")
        #expect(LikePattern.sql("data:**") == "data:*%")
        #expect(LikePattern.sql("*x*") == "%x%")
    }

    @Test func jsonPathsAndNumbersLexAsMoonPalaceDoes() throws {
        let node = try PredicateParser.parse("request_body.messages.-3.14.role >= -2.50")
        guard case .compare(let c) = node else { Issue.record("\(node)"); return }
        #expect(c.field.path == [.key("messages"), .index(-3), .index(14), .key("role")])
        #expect(PredicatePathStep.sqlitePath(c.field.path) == "$.messages[#-3][14].role")
        #expect(c.values == [.number("-2.50")])
        #expect(c.op == .ge)
    }
}
