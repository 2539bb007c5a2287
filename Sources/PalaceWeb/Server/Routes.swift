import HTTPTypes
import Hummingbird
import PalaceIndex
import PalaceLog
import PalaceWire
import ServiceLifecycle

/// Dispatch of the admin's paths (a handful, matched by hand: no router generics to thread through `start`).
extension PalaceWebApp {
    func route(_ request: Request) async throws -> Response {
        let path = request.uri.path
        let rest = path == options.prefix ? "" : String(path.dropFirst(options.prefix.count))
        let parts = rest.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let get = request.method == .get || request.method == .head
        let post = request.method == .post

        if rest.isEmpty {
            let q = request.uri.query.map { "?" + $0 } ?? ""
            return Self.redirect(options.prefix + "/" + q)
        }
        switch (parts.first, parts.count) {
        case (nil, _) where get: return try await listPage(request)
        case ("stats", 1) where get: return try await statsPage(request)
        case ("events", 1) where get: return eventsStream(request)
        case ("api", 2) where get && parts[1] == "predicate": return predicateCheck(request)
        case ("export.har", 1) where get: return try await batchDownload(request, format: .har)
        case ("export.jsonl", 1) where get: return try await batchDownload(request, format: .jsonl)
        case ("assets", 2) where get:
            if parts[1] == "app.css" { return asset(Assets.css, "text/css; charset=utf-8") }
            if parts[1] == "app.js" { return asset(Assets.js, "text/javascript; charset=utf-8") }
        case ("x", _) where parts.count >= 2:
            guard let id = Int64(parts[1]), id > 0 else {
                return page(.notFound, layout.errorPage(title: "Not found", message: "'\(parts[1])' is not an exchange id (ids are positive integers)"))
            }
            let sub = parts.dropFirst(2).joined(separator: "/")
            switch sub {
            case "" where get: return try await exchangePage(id, request)
            case "raw/request" where get, "raw/response" where get: return try await rawBody(id, response: sub == "raw/response")
            case "case.json" where get, "curl" where get: return try await caseDownload(id, curl: sub == "curl")
            case "mark" where post, "tags" where post, "replay" where post: return try await change(id, sub, request)
            case "mark", "tags", "replay":
                return page(.methodNotAllowed, layout.errorPage(title: "Use the buttons", message: "\(sub) changes the log: it is a POST from the exchange page"))
            default: break
            }
        default: break
        }
        if !get && !post {
            return page(.methodNotAllowed, layout.errorPage(title: "Method not allowed", message: "\(request.method) is not used here"))
        }
        return page(.notFound, layout.errorPage(title: "Not found", message: "Nothing at \(path)"))
    }

    func asset(_ text: String, _ type: String) -> Response {
        var h = HTTPFields()
        h[.contentType] = type
        h[.cacheControl] = "public, max-age=31536000, immutable"
        h[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        return Response(status: .ok, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: list

    func listPage(_ request: Request) async throws -> Response {
        let filter = ListFilter(FormData(request.uri.query ?? ""), defaultLimit: options.pageSize)
        let now = TimeExpression.nowMicros()
        let query: ListQuery
        do { query = try filter.listQuery(limit: filter.limit + 1) } catch {
            let html = ListPage(layout: layout, filter: filter, rows: [], snippets: [:], problem: error, hasMore: false,
                                now: now, downloads: false).render()
            return page(.badRequest, html)
        }
        let result: Result<([ExchangeSummary], [Int64: String]), ListFilter.Problem>
        result = try await pool.run { index in
            do {
                if let text = query.text {
                    let hits = try index.search(text, query: query)
                    return .success((hits.map(\.summary), Dictionary(hits.map { ($0.summary.id, $0.snippet) }, uniquingKeysWith: { a, _ in a })))
                }
                return .success((try index.list(query), [:]))
            } catch let e as PredicateError {
                return .failure(.predicate(e))
            } catch let e as IndexError {
                return .failure(.field(name: "p", message: "\(e)"))
            }
        }
        switch result {
        case .failure(let problem):
            return page(.badRequest, ListPage(layout: layout, filter: filter, rows: [], snippets: [:], problem: problem,
                                              hasMore: false, now: now, downloads: false).render())
        case .success(let (rows, snippets)):
            return page(.ok, ListPage(layout: layout, filter: filter, rows: Array(rows.prefix(filter.limit)), snippets: snippets,
                                      problem: nil, hasMore: rows.count > filter.limit, now: now, downloads: true).render())
        }
    }

    func predicateCheck(_ request: Request) -> Response {
        let text = FormData(request.uri.query ?? "")["p"] ?? ""
        var obj = JSONObject()
        do {
            if !text.trimmed.isEmpty { _ = try PredicatePlan.compile([text]) }
            obj["ok"] = .bool(true)
        } catch {
            obj["ok"] = .bool(false)
            obj["message"] = .string(error.message)
            obj["column"] = .number(error.column)
        }
        return Self.bytes(.ok, Array(JSONValue.object(obj).serialized().utf8), contentType: "application/json; charset=utf-8")
    }

    // MARK: stats

    func statsPage(_ request: Request) async throws -> Response {
        let form = FormData(request.uri.query ?? "")
        var filter = ListFilter(form, defaultLimit: options.pageSize)
        if form["since"] == nil && form["until"] == nil { filter.since = "30d" }
        filter.before = nil
        let query: ListQuery
        do { query = try filter.listQuery(limit: nil) } catch {
            return page(.badRequest, StatsPage(layout: layout, filter: filter, rows: [], problem: error, elapsedMs: 0, hours: nil).render())
        }
        let started = ContinuousClock.now
        let cache = statsCache, pool = self.pool
        let family = filter.query(includeLimit: false)
        // Per hour when the traffic spans at most three days, else per day: one pass either way.
        @Sendable func compute(_ index: ExchangeIndex) throws -> StatsTable {
            let now = TimeExpression.nowMicros()
            let exact = StatsCache.key(query, watermark: try index.watermark())
            let table = try index.statsTable(query, hourlyUpToDays: 3)
            cache.store(family: family, exact: exact, table: table, computedAt: now)
            return table
        }
        let result: Result<(StatsTable, Bool, Int64?), ListFilter.Problem> = try await pool.run { index in
            do {
                let exact = StatsCache.key(query, watermark: try index.watermark())
                switch cache.lookup(family: family, exact: exact, now: TimeExpression.nowMicros()) {
                case .fresh(let table): return .success((table, true, nil))
                case .stale(let table, let age, let refresh):
                    if refresh {
                        Task.detached {
                            do { _ = try await pool.run { index in try compute(index) } } catch {
                                cache.refreshFailed(family: family)
                            }
                        }
                    }
                    return .success((table, true, age))
                case .none:
                    return .success((try compute(index), false, nil))
                }
            } catch let e as PredicateError { return .failure(.predicate(e)) }
        }
        let elapsed = ContinuousClock.now - started
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        switch result {
        case .failure(let p):
            return page(.badRequest, StatsPage(layout: layout, filter: filter, rows: [], problem: p, elapsedMs: ms, hours: nil).render())
        case .success(let (table, cached, stale)):
            return page(.ok, StatsPage(layout: layout, filter: filter, rows: table.rows, problem: nil, elapsedMs: ms,
                                       hours: table.hours, cached: cached, staleSeconds: stale).render())
        }
    }

    // MARK: one exchange

    func exchangePage(_ id: Int64, _ request: Request) async throws -> Response {
        let loaded: (ExchangeSummary, LoadedExchange?, String?, ExchangeSummary?)? = try await pool.run { index in
            guard let s = try index.summary(id: id) else { return nil }
            do {
                let ex = try index.exchange(id: id)
                let of = ex?.begin.meta.first { $0.name == "replay_of" }.flatMap { Int64($0.value) }
                return (s, ex, nil, try of.flatMap { try index.summary(id: $0) })
            } catch { return (s, nil, "\(error)", nil) }
        }
        guard let (summary, exchange, loadError, original) = loaded else {
            let removed = try await pool.run { index in index.removedFromLog(id: id) }
            return page(.notFound, layout.errorPage(title: "No exchange #\(id)", message: removed.map { $0 + "." }
                ?? "There is no exchange #\(id) in this data directory (it may not exist yet, or was cleaned up)."))
        }
        let q = FormData(request.uri.query ?? "")
        var notice = q["notice"].flatMap(Self.notices)
        if let loadError { notice = loadError }
        let replay: ExchangePage.ReplayButton = actions.replay == nil ? .unavailable(actions.replayUnavailable) : .available
        return page(.ok, ExchangePage(layout: layout, summary: summary, exchange: exchange, displayLimit: options.displayLimit,
                                      messageLimit: options.messageLimit,
                                      replay: replay, downloads: true, notice: notice, original: original).render())
    }

    static func notices(_ key: String) -> String? {
        switch key {
        case "marked": "Marked. The annotation is on the log."
        case "tagged": "Tags saved on the log."
        case "replayed": "Replayed: this is the new exchange, compared with the original below."
        default: nil
        }
    }

    func rawBody(_ id: Int64, response: Bool) async throws -> Response {
        let ex: LoadedExchange?? = try await pool.run { index in
            guard try index.summary(id: id) != nil else { return .none }
            return .some(try index.exchange(id: id))
        }
        guard case .some(let loaded) = ex else {
            return page(.notFound, layout.errorPage(title: "No exchange #\(id)", message: "There is no exchange #\(id) in this data directory."))
        }
        guard let loaded else {
            return page(.gone, layout.errorPage(title: "Records gone", message: "The log no longer holds exchange #\(id)'s records."))
        }
        let body = response ? loaded.responseBody : loaded.requestBody
        let headers = response ? (loaded.end?.responseHeaders ?? []) : loaded.begin.requestHeaders
        let declared = headers.first { $0.name.lowercased() == "content-type" }?.value.lowercased() ?? ""
        // Never the upstream's own type (text/html would run in the admin's origin): JSON, plain text or a download.
        if declared.contains("json") || ExchangePage.json(body) != nil {
            return Self.bytes(.ok, body, contentType: "application/json; charset=utf-8")
        }
        if ExchangePage.looksTextual(body) { return Self.bytes(.ok, body, contentType: "text/plain; charset=utf-8") }
        return Self.bytes(.ok, body, contentType: "application/octet-stream",
                          download: "exchange-\(id)-\(response ? "response" : "request").bin")
    }
}
