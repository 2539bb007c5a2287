import HTTPTypes
import Hummingbird
import PalaceLog
import PalaceWire

/// The proxy's control requests, for local commands that cannot open the log themselves while `start` holds its
/// writer lock (`export --good/--bad/--tag`, the web admin, `replay`). Every control request carries the token of
/// the data directory's `proxy.json` (`RunningProxy`) in `X-MoonPalace-Control`; without the right token the
/// control path is not special (it is forwarded like any path) and replay headers are ignored.
///
/// - `POST /_moonpalace/annotate` with `{"id": N, "category": "goodcase"|"badcase"|""|null, "add_tags": [...],
///   "remove_tags": [...]}` appends an annotation record → `{"ok": true}`, or 400/404 with `{"error": …}`.
/// - `POST /_moonpalace/tombstone` with `{"ids": [N, …], "reason": "cleanup"}` (at most 10,000 ids) appends a
///   tombstone record (`cleanup` while `start` holds the log) → `{"ok": true}`.
/// - `X-MoonPalace-Replay-Of: <id>; nonce=<n>` on a proxied request: the exchange is recorded with
///   `replay_of` / `replay_nonce` in its begin record's meta. `X-MoonPalace-*` headers never go upstream.
public enum ControlChannel {
    public static let tokenHeader = "X-MoonPalace-Control"
    public static let replayHeader = "X-MoonPalace-Replay-Of"
    public static let annotatePath = "/_moonpalace/annotate"
    public static let tombstonePath = "/_moonpalace/tombstone"
    /// Ids per tombstone request (a body well under the 1 MiB limit).
    public static let tombstoneBatch = 10_000
    static let controlPrefix = "/_moonpalace/"

    /// The response to a control request, or nil when `request` is an ordinary one to forward.
    static func respond(to request: Request, context: ProxyContext) async -> Response? {
        // Every POST passes here: a prefix test, no split of the path.
        guard let token = context.config.controlToken, request.method == .post, let path = request.head.path,
              path.hasPrefix(controlPrefix) else { return nil }
        let isAnnotate = Self.matches(path, annotatePath)
        guard isAnnotate || Self.matches(path, tombstonePath) else { return nil }
        guard let name = HTTPField.Name(tokenHeader), request.headers[name] == token else { return nil }
        var body = ByteBuffer()
        var iterator = request.body.makeAsyncIterator()
        do {
            while var part = try await iterator.next() {
                body.writeBuffer(&part)
                if body.readableBytes > 1 << 20 { return reply(413, error: "control request too large (over 1 MiB)") }
            }
        } catch { return reply(400, error: "cannot read the request body: \(error)") }
        if !isAnnotate { return await tombstone(body, context: context) }
        guard let v = try? JSONValue.parse(Array(body.readableBytesView)), let id = v["id"]?.intValue, id > 0 else {
            return reply(400, error: "expected {\"id\": N, \"category\": …, \"add_tags\": […], \"remove_tags\": […]}")
        }
        let category: String? = v["category"].flatMap { $0.isNull ? nil : $0.stringValue }
        let add = v["add_tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let remove = v["remove_tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
        do {
            _ = try await context.writer.append(.annotation(Annotation(exchangeID: UInt64(id), category: category,
                                                                        addTags: add, removeTags: remove)))
        } catch {
            return reply(500, error: "cannot append the annotation to the log: \(error)")
        }
        return reply(200, error: nil)
    }

    /// `path` is `control` itself, or `control` followed by a query string.
    static func matches(_ path: String, _ control: String) -> Bool {
        path.hasPrefix(control)
            && (path.utf8.count == control.utf8.count || path.utf8.dropFirst(control.utf8.count).first == UInt8(ascii: "?"))
    }

    static func tombstone(_ body: ByteBuffer, context: ProxyContext) async -> Response {
        guard let v = try? JSONValue.parse(Array(body.readableBytesView)), let list = v["ids"]?.arrayValue,
              !list.isEmpty, list.count <= tombstoneBatch else {
            return reply(400, error: "expected {\"ids\": [N, …] (1 to \(tombstoneBatch) ids), \"reason\": …}")
        }
        var ids: [UInt64] = []
        ids.reserveCapacity(list.count)
        for item in list {
            guard let id = item.intValue, id > 0 else { return reply(400, error: "ids must be positive integers") }
            ids.append(UInt64(id))
        }
        let reason = v["reason"]?.stringValue ?? "cleanup"
        do {
            _ = try await context.writer.append(.tombstone(Tombstone(exchangeIDs: ids, reason: reason)))
        } catch {
            return reply(500, error: "cannot append the tombstone to the log: \(error)")
        }
        return reply(200, error: nil)
    }

    static func reply(_ status: Int, error: String?) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let value: JSONValue = error.map { ["error": .string($0)] } ?? ["ok": true]
        return Response(status: HTTPResponse.Status(code: status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized() + "\n")))
    }

    private static let lowerTokenHeader = tokenHeader.lowercased()
    private static let lowerReplayHeader = replayHeader.lowercased()

    /// `name.lowercased().hasPrefix("x-moonpalace-")` for an ASCII name.
    private static func hasMoonPalacePrefix(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { a in
            let prefix: StaticString = "x-moonpalace-"
            return a.count >= prefix.utf8CodeUnitCount && prefix.withUTF8Buffer {
                UpstreamHead.equalsLowercased(UnsafeBufferPointer(rebasing: a[..<$0.count]), $0)
            }
        }
    }

    /// Removes `X-MoonPalace-*` headers from a request about to be forwarded; returns the replay link as begin
    /// meta when the control token is right.
    static func takeLink(_ headers: inout [HeaderField], token: String?) -> [HeaderField] {
        // Runs for every request: names compared as bytes (header names are ASCII tokens), nothing lower-cased, and
        // the list left untouched when no name has the prefix.
        let control = headers.first { UpstreamHead.equalsLowercased($0.name, lowerTokenHeader) }?.value
        let link = headers.first { UpstreamHead.equalsLowercased($0.name, lowerReplayHeader) }?.value
        if headers.contains(where: { hasMoonPalacePrefix($0.name) }) { headers.removeAll { hasMoonPalacePrefix($0.name) } }
        guard let token, let control, control == token, let link else { return [] }
        let parts = link.split(separator: ";").map { $0.trimmingSpaces() }
        guard let id = parts.first, !id.isEmpty, id.allSatisfy(\.isNumber) else { return [] }
        var meta = [HeaderField(name: "replay_of", value: String(id))]
        for p in parts.dropFirst() where p.hasPrefix("nonce=") {
            meta.append(HeaderField(name: "replay_nonce", value: String(p.dropFirst(6))))
        }
        return meta
    }
}

/// Sends control requests to a running proxy (`RunningProxy`).
public enum ControlClient {
    /// Appends tombstones for `ids` through the proxy serving the data directory, `ControlChannel.tombstoneBatch`
    /// ids per record. On failure the batches before it are already on the log.
    public static func tombstone(_ ids: [UInt64], reason: String, via proxy: RunningProxy) async throws {
        var start = 0
        while start < ids.count {
            let part = ids[start..<min(ids.count, start + ControlChannel.tombstoneBatch)]
            let o = JSONObject([("ids", .array(part.map { JSONValue.number(String($0)) })), ("reason", .string(reason))])
            try await post(ControlChannel.tombstonePath, JSONValue.object(o).serializedBytes(), what: "tombstone", via: proxy)
            start += ControlChannel.tombstoneBatch
        }
    }

    /// Appends an annotation through the proxy serving the data directory.
    public static func annotate(_ a: Annotation, via proxy: RunningProxy) async throws {
        var o = JSONObject([("id", .number(String(a.exchangeID)))])
        o.set("category", a.category.map(JSONValue.string) ?? .null)
        o.set("add_tags", .array(a.addTags.map(JSONValue.string)))
        o.set("remove_tags", .array(a.removeTags.map(JSONValue.string)))
        try await post(ControlChannel.annotatePath, JSONValue.object(o).serializedBytes(), what: "annotation", via: proxy)
    }

    static func post(_ path: String, _ body: [UInt8], what: String, via proxy: RunningProxy) async throws {
        let result = await HTTPCall.send(
            method: "POST", url: proxy.baseURL + path,
            headers: [HeaderField(name: "Content-Type", value: "application/json"),
                      HeaderField(name: ControlChannel.tokenHeader, value: proxy.token)],
            body: body, idleTimeoutSeconds: 30)
        switch result {
        case .failure(let f):
            throw ReplayError("cannot reach the running proxy (pid \(proxy.pid)) at \(proxy.baseURL): \(f.message)")
        case .success(let r) where r.status != 200:
            let why = (try? JSONValue.parse(r.body))?["error"]?.stringValue ?? String(decoding: r.body.prefix(200), as: UTF8.self)
            throw ReplayError("the running proxy (pid \(proxy.pid)) refused the \(what): HTTP \(r.status) \(why)")
        case .success: return
        }
    }
}

/// A replay/explain/control failure with a message a person can act on.
public struct ReplayError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ message: String) { description = message }
}
