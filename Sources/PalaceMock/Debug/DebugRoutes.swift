import CPalaceMock
import HTTPTypes
import Hummingbird
import NIOCore

/// Test and benchmark facilities a real API does not have, under their own prefix `/_mock/` (never under `/v1`, so
/// the API routes, their bytes and their cost are untouched). They skip the `Gate`: no key check, no scenarios,
/// no Moonshot headers.
///
/// - `/_mock/echo[/anything]`, any method: the request as received, as JSON — method, target, path (the target
///   without `/_mock/echo`), host, headers, body length and SHA-256 (the body is streamed, never held).
/// - `GET /_mock/bytes?n=N`: N bytes (0, 1, …, 255, 0, 1, …), `application/octet-stream` with `Content-Length`.
/// - `/_mock/hold?tag=T[&sse=1][&ms=20000]`, any method: answers nothing (with `sse=1`: an SSE head and one event
///   `data: {"hold":"T"}`) until the caller closes the connection or `ms` pass; logs `held`, then `closed` or
///   `released`, to `/_mock/events`.
/// - `GET /_mock/events[?tag=T]`: that log, `{"events":[{"seq","tag","event","at","held_ms","how"}…]}`.
struct DebugRoutes: Sendable {
    let state: MockState

    static let anyMethod: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete, .head, .options]
    static let echoPrefix = "/_mock/echo"

    func register(on router: Router<MockRequestContext>) {
        for method in Self.anyMethod {
            router.on("/_mock/echo", method: method) { request, _ in await answer { try await echo(request) } }
            router.on("/_mock/echo/**", method: method) { request, _ in await answer { try await echo(request) } }
            router.on("/_mock/hold", method: method) { request, context in
                await answer { try await hold(request, channel: context.channel) }
            }
        }
        router.get("/_mock/bytes") { request, _ in await answer { try bytes(request) } }
        router.get("/_mock/events") { request, _ in
            JSONResponse.make(text: state.events.json(tag: request.uri.queryParameters.get("tag")))
        }
    }

    private func answer(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as APIError {
            return error.response(headers: HTTPFields())
        } catch {
            return APIError(.badRequest, "invalid_request_error", "mock: \(error)").response(headers: HTTPFields())
        }
    }

    // MARK: echo

    func echo(_ request: Request) async throws -> Response {
        var hash = palace_sha256()
        palace_sha256_init(&hash)
        var length = 0
        for try await buffer in request.body {
            buffer.withUnsafeReadableBytes { palace_sha256_update(&hash, $0.baseAddress, $0.count) }
            length += buffer.readableBytes
        }
        var digest = [UInt8](repeating: 0, count: 32)
        palace_sha256_final(&hash, &digest)
        let target = request.head.path ?? "/"
        var path = String(target.dropFirst(target.hasPrefix(Self.echoPrefix) ? Self.echoPrefix.utf8.count : 0))
        if !path.hasPrefix("/") { path = "/" + path }
        // HTTP/1.1's Host header arrives as the request's authority (HTTPTypes keeps it out of the fields).
        var headers: [(name: String, value: String)] = request.head.authority.map { [("host", $0)] } ?? []
        for field in request.headers {
            let name = field.name.canonicalName
            if let at = headers.firstIndex(where: { $0.name == name }) {
                headers[at].value += ", " + field.value
            } else {
                headers.append((name, field.value))
            }
        }
        var json = "{\"method\":" + JSONText.quoted(request.method.rawValue)
        json += ",\"target\":" + JSONText.quoted(target)
        json += ",\"path\":" + JSONText.quoted(path)
        json += ",\"host\":" + (request.head.authority.map(JSONText.quoted) ?? "null")
        json += ",\"headers\":{"
        json += headers.map { JSONText.quoted($0.name) + ":" + JSONText.quoted($0.value) }.joined(separator: ",")
        json += "},\"body_length\":\(length),\"body_sha256\":\"" + Self.hex(digest) + "\"}"
        var response = JSONResponse.make(text: json)
        if request.method == .head {
            // What GET would answer, without the body (the body setter resets Content-Length: set it after).
            response.body = ResponseBody()
            response.headers[.contentLength] = String(json.utf8.count)
        }
        return response
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: bytes

    /// 256 KiB of the repeating 0…255 pattern; a multiple of 256, so consecutive slices continue the pattern.
    static let patternBlock: ByteBuffer = {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(256 << 10)
        for i in 0..<(256 << 10) { buffer.writeInteger(UInt8(truncatingIfNeeded: i)) }
        return buffer
    }()

    func bytes(_ request: Request) throws(APIError) -> Response {
        let maximum = 1 << 40
        guard let text = request.uri.queryParameters.get("n"), let n = Int(text), (0...maximum).contains(n) else {
            throw APIError.invalidRequest("/_mock/bytes needs n=<number of bytes, 0...\(maximum)>")
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        let block = Self.patternBlock
        return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: n) { writer in
            var left = n
            while left > 0 {
                let size = min(left, block.readableBytes)
                try await writer.write(block.getSlice(at: block.readerIndex, length: size) ?? ByteBuffer())
                left -= size
            }
            try await writer.finish(nil)
        })
    }

    // MARK: hold

    func hold(_ request: Request, channel: any Channel) async throws -> Response {
        let query = request.uri.queryParameters
        let tag = query.get("tag") ?? ""
        let sse = query.get("sse") == "1"
        var limit = 20_000
        if let text = query.get("ms") {
            guard let value = Int(text), (0...600_000).contains(value) else {
                throw APIError.invalidRequest("/_mock/hold: ms must be an integer in 0...600000 (got '\(text)')")
            }
            limit = value
        }
        for try await _ in request.body {}
        let limitMs = limit
        let watch = try await ConnectionWatch.install(on: channel)
        let events = state.events
        guard sse else {
            events.record(tag: tag, event: "held")
            let outcome = await watch.wait(milliseconds: limitMs)
            events.record(tag: tag, outcome)
            await watch.remove()
            return JSONResponse.make(text: "{\"hold\":\(JSONText.quoted(tag)),\"held_ms\":\(outcome.heldMs)}")
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "data: {\"hold\":\(JSONText.quoted(tag))}\n\n"))
            events.record(tag: tag, event: "held")
            let outcome = await watch.wait(milliseconds: limitMs)
            events.record(tag: tag, outcome)
            await watch.remove()
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        })
    }
}
