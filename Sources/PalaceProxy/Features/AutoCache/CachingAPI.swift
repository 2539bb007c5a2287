import Hummingbird
import PalaceLog
import PalaceWire

/// Calls to Moonshot's `/v1/caching` API over the proxy's own curl loop (one HTTP client for the whole proxy).
/// Every call has a deadline (`timeoutSeconds` without a byte), unlike MoonPalace's cache client.
struct CachingAPI: Sendable {
    let loop: CurlLoop
    let endpoint: String
    let timeoutSeconds: Int

    struct Reply: Sendable {
        var status: Int
        var body: [UInt8]
        var json: JSONValue? { try? JSONValue.parse(body) }
        /// `error.message` of an API error body, else the start of the body.
        var message: String {
            json?["error"]?["message"]?.stringValue ?? String(decoding: body.prefix(200), as: UTF8.self)
        }
    }

    func create(family: String, messages: [JSONValue], tools: JSONValue?, ttl: Int, key: String) async -> Result<Reply, UpstreamFailure> {
        var request = JSONObject()
        request.set("model", .string(family))
        request.set("messages", .array(messages))
        if let tools { request.set("tools", tools) }
        request.set("ttl", .number(ttl))
        return await call("POST", "/v1/caching", key: key, body: JSONValue.object(request).serializedBytes())
    }

    func delete(_ cacheID: String, key: String) async -> Result<Reply, UpstreamFailure> {
        await call("DELETE", "/v1/caching/" + cacheID, key: key, body: nil)
    }

    func call(_ method: String, _ path: String, key: String, body: [UInt8]?) async -> Result<Reply, UpstreamFailure> {
        var headers = [HeaderField(name: "Authorization", value: "Bearer \(key)")]
        if body != nil { headers.append(HeaderField(name: "Content-Type", value: "application/json")) }
        let transfer: UpstreamTransfer
        do {
            transfer = try loop.transfer(UpstreamRequest(
                method: method, url: endpoint + path, headers: headers, bodyLength: body.map { Int64($0.count) },
                decodeCompression: true, idleTimeoutSeconds: timeoutSeconds))
        } catch {
            return .failure(error)
        }
        transfer.start()   // before the body: a body above the transfer's high-water mark waits for curl to read it
        if let body {
            await transfer.sendBody(ByteBuffer(bytes: body))
            transfer.finishBody()
        }
        let head: UpstreamHead
        switch await transfer.head() {
        case .failure(let failure): return .failure(failure)
        case .success(let h): head = h
        }
        var bytes: [UInt8] = []
        while true {
            switch await transfer.nextBody() {
            case .bytes(let b): bytes.append(contentsOf: b.readableBytesView)
            case .end: return .success(Reply(status: head.status, body: bytes))
            case .failed(let failure): return .failure(failure)
            }
        }
    }
}
