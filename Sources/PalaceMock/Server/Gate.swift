import HTTPTypes
import Hummingbird

/// What every request passes through: per-request settings, `slow-head`, auth, fault scenarios, the headers
/// the real service adds (`Msh-Request-Id`, `Server-Timing`, `Msh-Uid`, `Msh-Gid`), and `X-Mock-Gzip`.
///
/// Invariant: a handler never produces a response without these headers, and an `APIError` thrown anywhere
/// becomes a response in Moonshot's error shape (never a bare 500).
struct Gate: Sendable {
    let options: MockOptions

    static let requestID = HTTPField.Name("Msh-Request-Id")!
    static let serverTiming = HTTPField.Name("Server-Timing")!
    static let uid = HTTPField.Name("Msh-Uid")!
    static let gid = HTTPField.Name("Msh-Gid")!

    func serve(_ request: Request, _ handler: (RequestSettings) async throws -> Response) async -> Response {
        let started = ContinuousClock.now
        var headers = HTTPFields()
        headers[Self.requestID] = Identifiers.uuid()
        headers[Self.uid] = options.uid
        headers[Self.gid] = options.gid
        var response: Response
        var gzip = false
        do {
            let settings = try RequestSettings.resolve(options: options, headers: request.headers)
            gzip = settings.gzip
            if settings.has(.slowHead) { try await Task.sleep(for: .milliseconds(settings.headDelayMs)) }
            try authorize(request.headers)
            if let fault = Self.fault(settings) { throw fault }
            response = try await handler(settings)
        } catch let error as APIError {
            response = error.response(headers: HTTPFields())
        } catch is CancellationError {
            response = Response(status: .internalServerError)
        } catch {
            response = APIError(.internalServerError, "server_error", "mock: \(error)").response(headers: HTTPFields())
        }
        let elapsed = ContinuousClock.now - started
        let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        headers[Self.serverTiming] = "inner; dur=\(ms)"
        for field in headers { response.headers.append(field) }
        if gzip && request.method != .head {
            GzipResponse.apply(to: &response, acceptEncoding: request.headers[.acceptEncoding])
        }
        return response
    }

    private func authorize(_ headers: HTTPFields) throws(APIError) {
        guard let key = options.requireKey else { return }
        guard let value = headers[.authorization], value.hasPrefix("Bearer "), value.count > 7 else {
            throw APIError.missingKey
        }
        if value.dropFirst(7) != key { throw APIError.wrongKey }
    }

    /// The first fault scenario in a fixed priority order (auth before availability before content).
    private static func fault(_ settings: RequestSettings) -> APIError? {
        if settings.has(.unauthorized) { return .wrongKey }
        if settings.has(.error502) { return .badGateway }
        if settings.has(.error503) { return .unavailable }
        if settings.has(.error500) { return .serverError }
        if settings.has(.rateLimit) { return .rateLimit }
        if settings.has(.quota) { return .quota }
        if settings.has(.contentFilter) { return .contentFilter }
        return nil
    }

    /// Reads the whole body; too large is a 400 naming the limit.
    static func body(of request: Request, limit: Int) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, "invalid_request_error",
                "Invalid request: the body is larger than \(limit / (1 << 20)) MiB")
        }
    }
}
