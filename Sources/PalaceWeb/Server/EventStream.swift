import HTTPTypes
import Hummingbird
import PalaceIndex
import PalaceWire
import ServiceLifecycle

/// `/palace/events`: server-sent events for the list page. Each new or changed exchange that matches the page's
/// filter arrives as `event: row` with `{"id": N, "html": "<tr…>"}` (the row exactly as the page renders it);
/// a comment every 15 s keeps the connection alive. Ends when the server shuts down gracefully.
extension PalaceWebApp {
    func eventsStream(_ request: Request) -> Response {
        let filter = ListFilter(FormData(request.uri.query ?? ""), defaultLimit: 1)
        let query: ListQuery
        do { query = try filter.listQuery(limit: 1) } catch {
            let message: String
            switch error {
            case .predicate(let e): message = e.description
            case .field(_, let m): message = m
            }
            return Self.bytes(.badRequest, Array((message + "\n").utf8), contentType: "text/plain; charset=utf-8")
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        let stream = feed.subscribe()
        feed.start()
        let prefix = options.prefix
        return Response(status: .ok, headers: headers, body: ResponseBody { [self] writer in
            try await writer.write(ByteBuffer(string: "retry: 2000\n: live\n\n"))
            for try await ids in stream.cancelOnGracefulShutdown() {
                if ids.isEmpty {
                    try await writer.write(ByteBuffer(string: ": ping\n\n"))
                    continue
                }
                let rows = try await self.pool.run { index in try Self.matchingRows(index, ids, query, prefix: prefix) }
                for (id, html) in rows {
                    var obj = JSONObject()
                    obj["id"] = .number(Int(id))
                    obj["html"] = .string(html)
                    try await writer.write(ByteBuffer(bytes: SSEEncoder.encode(data: JSONValue.object(obj).serialized(), event: "row")))
                }
            }
            try await writer.finish(nil)
        })
    }

    /// The rendered rows of those `ids` that match `query` (its predicates plus `id == N`, so each check is one
    /// indexed lookup, not a scan).
    static func matchingRows(_ index: ExchangeIndex, _ ids: [Int64], _ query: ListQuery, prefix: String) throws -> [(Int64, String)] {
        let now = TimeExpression.nowMicros()
        var out: [(Int64, String)] = []
        for id in ids {
            var q = query
            q.predicates.append("id == \(id)")
            q.limit = 1
            q.beforeID = nil
            if let text = q.text {
                guard let hit = try index.search(text, query: q).first else { continue }
                out.append((id, ListPage.row(hit.summary, prefix: prefix, now: now, snippet: hit.snippet, query: text)))
            } else {
                guard let s = try index.list(q).first else { continue }
                out.append((id, ListPage.row(s, prefix: prefix, now: now)))
            }
        }
        return out
    }
}
