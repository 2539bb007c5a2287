import HTTPTypes
import Hummingbird
import PalaceIndex
import PalaceLog
import Testing
@testable import PalaceWeb
#if canImport(Glibc)
import Glibc
#endif

/// Routes over a real 127.0.0.1 socket against a real log written by the real `LogWriter` (TrafficGenerator's realistic traffic)
/// and the real index; annotations go through `WebActions.openingWriter`, as in `moonpalace web`.
@Suite(.serialized) struct RouteTests {
    static func dataDirectory(exchanges: Int) async throws -> DataDirectory {
        var template = Array("/tmp/palaceweb-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let dir = DataDirectory(path: String(cString: p!))
        try dir.create()
        let writer = try LogWriter.open(directory: dir.logDirectory, options: LogWriterOptions(syncPolicy: .none))
        try await TrafficGenerator(seed: 7).write(count: exchanges, to: writer, days: 3)
        try await writer.close()
        return dir
    }

    static func withApp(_ dir: DataDirectory, options: WebOptions = WebOptions(),
                        _ body: @Sendable (PalaceWebApp, WebClient) async throws -> Void) async throws {
        let web = try PalaceWebApp(dataDirectory: dir, options: options,
                                   actions: WebActions(annotate: WebActions.openingWriter(logDirectory: dir.logDirectory)))
        await web.feed.catchUpNow()
        try await withServer(web) { client in try await body(web, client) }
    }

    static func ids(_ html: String) -> [Int64] {
        var out: [Int64] = []
        var rest = Substring(html)
        while let r = rest.range(of: "<tr id=\"x") {
            rest = rest[r.upperBound...]
            out.append(Int64(rest.prefix { $0.isNumber })!)
        }
        return out
    }

    @Test func pagingWalksTheWholeHistoryNewestFirst() async throws {
        let dir = try await Self.dataDirectory(exchanges: 230)
        defer { _ = system("rm -rf '\(dir.path)'") }
        try await Self.withApp(dir) { _, client in
            var seen: [Int64] = []
            var uri = "/palace/?n=100"
            while true {
                let (html, older): (String, String?) = try await client.execute(uri: uri, method: .get) { r in
                    #expect(r.status == .ok)
                    let html = String(buffer: r.body)
                    let older = html.range(of: "id=\"older\" href=\"").map { m in
                        String(html[m.upperBound...].prefix { $0 != "\"" }).replacing("&amp;", with: "&")
                    }
                    return (html, older)
                }
                seen += Self.ids(html)
                guard let older else { break }
                uri = older
            }
            #expect(seen == Array((1...230).reversed()))
        }
    }

    @Test func everyPageAnswersAndUnknownsAre404() async throws {
        let dir = try await Self.dataDirectory(exchanges: 40)
        defer { _ = system("rm -rf '\(dir.path)'") }
        try await Self.withApp(dir) { _, client in
            for (uri, status) in [("/palace/", HTTPResponse.Status.ok), ("/palace/stats", .ok), ("/palace/x/1", .ok),
                                  ("/palace/x/40/raw/request", .ok), ("/palace/x/41", .notFound), ("/palace/x/0", .notFound),
                                  ("/palace/x/1/nope", .notFound), ("/palace/assets/app.css", .ok), ("/", .seeOther),
                                  ("/elsewhere", .notFound), ("/palace/?p=status%20%3D%3D", .badRequest)] {
                try await client.execute(uri: uri, method: .get) { r in #expect(r.status == status, "\(uri)") }
            }
            try await client.execute(uri: "/palace/stats", method: .get) { r in
                let html = String(buffer: r.body)
                #expect(html.contains("Requests per ") && html.contains("<svg"))
            }
        }
    }

    @Test func statsPageServesAStaleTableAtOnceAndRefreshesItInTheBackground() async throws {
        let dir = try await Self.dataDirectory(exchanges: 30)
        defer { _ = system("rm -rf '\(dir.path)'") }
        try await Self.withApp(dir) { web, client in
            func stats() async throws -> String {
                try await client.execute(uri: "/palace/stats", method: .get) { r in
                    #expect(r.status == .ok)
                    return String(buffer: r.body)
                }
            }
            let first = try await stats()
            #expect(first.contains("<b>30</b> requests") && first.contains("computed in"))
            #expect(try await stats().contains("from cache, nothing indexed since"))
            // New traffic moves the watermark: the old table comes at once, marked stale, and is refreshed.
            let writer = try LogWriter.open(directory: dir.logDirectory, options: LogWriterOptions(syncPolicy: .none))
            try await TrafficGenerator(seed: 8).write(count: 5, to: writer, days: 1)
            try await writer.close()
            await web.feed.catchUpNow()
            let stale = try await stats()
            #expect(stale.contains("<b>30</b> requests") && stale.contains("updating in the background"), "\(stale)")
            var fresh = ""
            for _ in 0..<200 {
                fresh = try await stats()
                if fresh.contains("<b>35</b> requests") { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(fresh.contains("<b>35</b> requests") && fresh.contains("from cache, nothing indexed since"), "\(fresh)")
        }
    }

    @Test func markNeedsCSRFAndLandsOnTheLog() async throws {
        let dir = try await Self.dataDirectory(exchanges: 5)
        defer { _ = system("rm -rf '\(dir.path)'") }
        try await Self.withApp(dir) { web, client in
            var h = HTTPFields()
            h[.contentType] = "application/x-www-form-urlencoded"
            try await client.execute(uri: "/palace/x/3/mark", method: .post, headers: h,
                                     body: ByteBuffer(string: "category=good")) { r in #expect(r.status == .forbidden) }
            try await client.execute(uri: "/palace/x/3/mark", method: .post, headers: h,
                                     body: ByteBuffer(string: "category=good&csrf=\(web.access.csrf)")) { r in
                #expect(r.status == .seeOther)
            }
            try await client.execute(uri: "/palace/x/3/tags", method: .post, headers: h,
                                     body: ByteBuffer(string: "add=a%2Cb&csrf=\(web.access.csrf)")) { r in #expect(r.status == .seeOther) }
            try await client.execute(uri: "/palace/?p=category%20%3D%3D%20%27goodcase%27", method: .get) { r in
                #expect(Self.ids(String(buffer: r.body)) == [3])
            }
        }
        // the log holds the annotations: a fresh index rebuilt from the log alone agrees
        let index = try ExchangeIndex(dataDirectory: dir)
        try index.rebuild()
        let s = try #require(try index.summary(id: 3))
        #expect(s.category == "goodcase" && s.tags == ["a", "b"])
    }

    @Test func tokenIsTakenOnceThenKeptInACookie() async throws {
        let dir = try await Self.dataDirectory(exchanges: 2)
        defer { _ = system("rm -rf '\(dir.path)'") }
        try await Self.withApp(dir, options: WebOptions(token: "tok", host: "0.0.0.0")) { _, client in
            try await client.execute(uri: "/palace/", method: .get) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/palace/?token=tok&q=x", method: .get) { r in
                #expect(r.status == .seeOther)
                #expect(r.headers[.location] == "/palace/?q=x")
                #expect(r.headers[.setCookie]?.contains("HttpOnly") == true)
            }
            var h = HTTPFields()
            h[.cookie] = "palace_token=tok"
            try await client.execute(uri: "/palace/", method: .get, headers: h) { r in #expect(r.status == .ok) }
        }
    }

    /// A stream recorded with arrival times (log format 1.2) is drawn at them; one without (older records) keeps the
    /// ordered placement and says so.
    @Test func streamTimelineUsesArrivalTimesAndLabelsOrderedPlacement() async throws {
        let dir = try await Self.dataDirectory(exchanges: 0)
        defer { _ = system("rm -rf '\(dir.path)'") }
        let events = [#"data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}"# + "\n\n",
                      #"data: {"choices":[{"index":0,"delta":{"content":"lo"}}]}"# + "\n\n",
                      #"data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"# + "\n\n",
                      "data: [DONE]\n\n"].map { Array($0.utf8) }
        var arrivals = BodyArrivals()
        arrivals.append(length: events[0].count, micros: 100_000)
        arrivals.append(length: events[1].count + events[2].count, micros: 900_000)   // two events in one read
        arrivals.append(length: events[3].count, micros: 1_000_000)
        let writer = try LogWriter.open(directory: dir.logDirectory, options: LogWriterOptions(syncPolicy: .none))
        for timed in [true, false] {
            let (id, _) = try await writer.appendBegin(ExchangeBegin(
                startedAt: 1_700_000_000_000_000, method: "POST", target: "/v1/chat/completions", endpoint: "http://mock",
                requestBody: Array(#"{"model":"kimi-k2","stream":true,"messages":[{"role":"user","content":"hi"}]}"#.utf8),
                flags: [.stream]))
            let body = events.flatMap { $0 }
            _ = try await writer.append(.end(ExchangeEnd(
                exchangeID: id, endedAt: 1_700_000_001_000_000, status: 200,
                responseHeaders: [HeaderField(name: "Content-Type", value: "text/event-stream")], responseBody: body,
                responseBodyLength: UInt64(body.count),
                timings: ExchangeTimings(ttfb: 80_000, ttft: 100_000, total: 1_000_000), model: "kimi-k2",
                finishReasons: ["stop"], flags: [.stream], arrivals: timed ? arrivals : BodyArrivals())))
        }
        try await writer.close()
        try await Self.withApp(dir) { _, client in
            let timed = try await client.execute(uri: "/palace/x/1", method: .get) { r in r.text }
            #expect(timed.contains("data-placement=\"arrival\"") && !timed.contains("data-placement=\"order\""))
            // ticks at 100, 900 (events 1 and 2 share their read) and 1000 ms
            #expect(timed.ranges(of: "class=\"ev\"").count == 3)
            #expect(timed.contains("<title>event 1 at 900 ms</title>") && timed.contains("longest gap 800 ms after event 0"))
            #expect(timed.contains("<td class=\"num\">900.0 ms</td><td class=\"num\">+800.0</td>"))
            #expect(timed.contains("output characters over time"))
            let ordered = try await client.execute(uri: "/palace/x/2", method: .get) { r in r.text }
            #expect(ordered.contains("data-placement=\"order\"") && ordered.contains("Events placed by order"))
            #expect(!ordered.contains("class=\"ev\"") && ordered.contains("output characters by event (placed by order)"))
        }
    }
}
