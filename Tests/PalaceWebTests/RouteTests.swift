import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PalaceIndex
import PalaceLog
import Testing
@testable import PalaceWeb
#if canImport(Glibc)
import Glibc
#endif

/// Routes in-process against a real log written by the real `LogWriter` (TrafficGenerator's realistic traffic)
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
                        _ body: @Sendable (PalaceWebApp, any TestClientProtocol) async throws -> Void) async throws {
        let web = try PalaceWebApp(dataDirectory: dir, options: options,
                                   actions: WebActions(annotate: WebActions.openingWriter(logDirectory: dir.logDirectory)))
        await web.feed.catchUpNow()
        let app = Application(responder: WebResponder(app: web))
        try await app.test(.router) { client in try await body(web, client) }
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
}
