import PalaceIndex
import PalaceWire
import Testing
@testable import PalaceWeb

@Suite struct RenderingTests {
    @Test func htmlEscapingNeutralisesMarkup() {
        #expect(HTML.text("<script>alert('x')</script> & 月") == "&lt;script&gt;alert('x')&lt;/script&gt; &amp; 月")
        #expect(HTML.attr("\" onmouseover='x'") == "&quot; onmouseover=&#39;x&#39;")
        #expect(HTML.query([("p", "status >= 400 && model ~ 'k*'"), ("q", ""), ("x", "月")])
                == "p=status%20%3E%3D%20400%20%26%26%20model%20~%20%27k%2A%27&x=%E6%9C%88")
    }

    @Test func formDataDecodesPlusPercentAndBadEscapes() {
        let f = FormData("p=status+%3E%3D+400&q=%E6%9C%88%E4%BA%AE&bad=%zz%4&empty=&flag&a=1&a=2")
        #expect(f["p"] == "status >= 400")
        #expect(f["q"] == "月亮")
        #expect(f["bad"] == "%zz%4")
        #expect(f["empty"] == "" && f["flag"] == "")
        #expect(f.all("a") == ["1", "2"] && f["missing"] == nil)
        #expect(FormData("x=%FF")["x"] == "\u{FFFD}")
    }

    @Test func filterShortcutsBecomePredicates() throws {
        var f = ListFilter()
        f.predicate = "path ~ '*/chat/completions'"
        f.model = "kimi-k2*"
        f.status = "error"
        f.errorStep = "timeout"
        #expect(try f.predicates() == ["path ~ '*/chat/completions'", "model ~ 'kimi-k2*'",
                                       "status == null || status >= 400 || error != null", "error_step == 'timeout'"])
        f = ListFilter()
        f.model = "it's"
        #expect(try f.predicates() == ["model == \"it's\""])
        f.model = "both'\""
        #expect(throws: ListFilter.Problem.self) { try f.predicates() }
        // every generated predicate parses and plans
        for status in ListFilter.statuses.map(\.0) + ["404"] {
            var g = ListFilter()
            g.status = status
            _ = try PredicatePlan.compile(try g.predicates())
        }
    }

    @Test func filterFromQueryIgnoresUnknownChoicesAndClampsLimit() {
        let f = ListFilter(FormData("status=drop+table&step=nope&n=100000&before=42&chat=1"), defaultLimit: 50)
        #expect(f.status == "" && f.errorStep == "" && f.limit == 500 && f.before == 42 && f.chatOnly)
        #expect(f.query(before: 7).contains("before=7"))
        #expect(ListFilter(FormData("n=0"), defaultLimit: 50).limit == 1)
    }

    @Test func badPredicatePointsAtItsColumn() {
        var f = ListFilter()
        f.predicate = "status == 200 && model ="
        do {
            _ = try f.listQuery()
            Issue.record("expected a problem")
        } catch {
            guard case .predicate(let e) = error else { Issue.record("wrong problem \(error)"); return }
            #expect(e.column == 24)
            let html = ListPage.predicateError(e)
            #expect(html.contains("data-column=\"24\"") && html.contains("<mark>=</mark>"))
        }
        f.predicate = ""
        f.since = "next tuesday"
        #expect(throws: ListFilter.Problem.self) { try f.listQuery() }
    }

    @Test func datetimeLocalIsReadAsLocalTime() {
        #expect(ListFilter.timeText("2026-11-29T10:15") == "2026-11-29 10:15")
        #expect(ListFilter.timeText("2026-11-29T10:15:00Z") == "2026-11-29T10:15:00Z")
        #expect(ListFilter.timeText("2026-11-29T10:15:00+08:00") == "2026-11-29T10:15:00+08:00")
        #expect(ListFilter.timeText("3d") == "3d")
    }

    @Test func snippetHighlightFindsTheMatchNotOtherBrackets() {
        #expect(ListPage.highlight("…a [b] c [Moon] d…", query: "moon") == "…a [b] c <mark>Moon</mark> d…")
        #expect(ListPage.highlight("x [月亮] y", query: "月亮") == "x <mark>月亮</mark> y")
        #expect(ListPage.highlight("<b>[x]</b>", query: "x") == "&lt;b&gt;<mark>x</mark>&lt;/b&gt;")
        #expect(ListPage.highlight("no match", query: "zz") == "no match")
    }

    @Test func conversationRendersRolesReasoningAndToolCalls() throws {
        let request = try JSONValue.parse(#"""
            {"messages":[{"role":"system","content":"你是 Kimi"},{"role":"user","content":[{"type":"text","text":"看图"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"{\"t\":21}"}],
            "tools":[{"type":"function","function":{"name":"get_weather"}}]}
            """#)
        let response = try JSONValue.parse(#"""
            {"choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","reasoning_content":"先想一想",
            "content":"","tool_calls":[{"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"北京\"}"}},
            {"id":"call_3","type":"function","function":{"name":"broken","arguments":"{\"city\":"}}]}}]}
            """#)
        let html = try #require(Conversation(textLimit: 1000).render(request: request, response: response))
        #expect(html.contains("class=\"msg system\"") && html.contains("你是 Kimi"))
        #expect(html.contains("看图") && html.contains("inline image"))
        #expect(html.contains("class=\"msg tool\"") && html.contains("call_1"))
        #expect(html.contains("<details class=\"reasoning\">") && html.contains("先想一想"))
        #expect(html.contains("\"city\": \"北京\""))                 // pretty JSON, Chinese kept
        #expect(html.contains("arguments are not valid JSON"))
        #expect(html.contains("finish_reason: <b>tool_calls</b>"))
        #expect(html.contains("1 tool definition"))
        let long = Conversation(textLimit: 5).cut("1234567890")
        #expect(long.hasPrefix("12345\n… (5 more characters"))
    }

    @Test func bodiesAreCutOnCharacterBoundaries() {
        let bytes = Array("月月".utf8)                             // 6 bytes, 3 per character
        #expect(ExchangePage.prefix(bytes, 4).count == 3)
        #expect(ExchangePage.prefix(bytes, 6).count == 6)
        #expect(!ExchangePage.looksTextual([0, 1, 2, 3, 4, 5]))
        #expect(ExchangePage.looksTextual(Array("plain\ntext".utf8)))
    }

    @Test func accessHelpers() {
        #expect(Access.isLoopbackAuthority("127.0.0.1:9988") && Access.isLoopbackAuthority("localhost"))
        #expect(Access.isLoopbackAuthority("[::1]:80") && !Access.isLoopbackAuthority("evil.example:9988"))
        #expect(!Access.isLoopbackAuthority("127.0.0.1.evil.example") && !Access.isLoopbackAuthority("127.evil.example:80"))
        #expect(Access.isLoopbackAuthority("127.1.2.3:8080") && !Access.isLoopbackAuthority("127.0.0.256"))
        #expect(Access.equal("abc", "abc") && !Access.equal("abc", "abd") && !Access.equal("abc", "abcd"))
        #expect(WebOptions(host: "0.0.0.0").problem != nil)
        #expect(WebOptions(token: "t", host: "0.0.0.0").problem == nil)
        #expect(WebOptions(host: "127.0.0.1").problem == nil)
        #expect(WebOptions(prefix: "admin/").prefix == "/admin")
    }

    @Test func statsDayRangeFillsGaps() {
        #expect(StatsPage.dayRange(["2026-02-27", "2026-03-02"]) == ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"])
        #expect(StatsPage.dayRange(["2026-11-29"]) == ["2026-11-29"])
    }

    @Test func chartScalesAndEscapes() {
        let c = SVGChart(title: "<t>", labels: ["2026-11-28", "2026-11-29"],
                         series: [SVGChart.Series(name: "m<1>", values: [3, nil])], format: { Format.fixed($0, 0) })
        let bars = c.bars()
        #expect(bars.contains("&lt;t&gt;") && bars.contains("m&lt;1&gt;") && !bars.contains("<t>"))
        #expect(c.niceMax(3) == 5 && c.niceMax(10) == 10 && c.niceMax(0) == 1 && c.niceMax(1234) == 2000)
    }
}
