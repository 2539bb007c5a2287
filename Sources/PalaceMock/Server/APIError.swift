import HTTPTypes
import Hummingbird

/// An error *served to a client*, in Moonshot's shape `{"error":{"type":…,"message":…}}`,
/// or — for 502/503 — the HTML an nginx in front of the real service answers with.
struct APIError: Error, Sendable {
    var status: HTTPResponse.Status
    var type: String
    var message: String
    var html: String?
    var retryAfter: Int?

    init(_ status: HTTPResponse.Status, _ type: String, _ message: String, html: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.type = type
        self.message = message
        self.html = html
        self.retryAfter = retryAfter
    }

    /// 400 `invalid_request_error` with Moonshot's "Invalid request: …" prefix.
    static func invalidRequest(_ detail: String) -> APIError {
        APIError(.badRequest, "invalid_request_error", "Invalid request: \(detail)")
    }

    static func notFound(_ message: String) -> APIError {
        APIError(.notFound, "resource_not_found_error", message)
    }

    static let missingKey = APIError(.unauthorized, "invalid_authentication_error", "Invalid Authentication")
    static let wrongKey = APIError(.unauthorized, "invalid_authentication_error", "Incorrect API key provided")
    static let contentFilter = APIError(
        .badRequest, "content_filter", "The request was rejected because it was considered high risk")
    static let rateLimit = APIError(
        .tooManyRequests, "rate_limit_reached_error",
        "Your account mock-user<ak-mock> request reached organization max RPM: 3, please try again after 1 seconds",
        retryAfter: 1)
    static let quota = APIError(
        .tooManyRequests, "exceeded_current_quota_error",
        "You exceeded your current token quota: <0>, please check your account balance")
    static let serverError = APIError(
        .internalServerError, "server_error", "An unexpected error occurred on the mock server (scenario error-500)")
    static let badGateway = APIError(
        .badGateway, "bad_gateway", "502 Bad Gateway",
        html: nginxPage("502 Bad Gateway"))
    static let unavailable = APIError(
        .serviceUnavailable, "service_unavailable", "503 Service Temporarily Unavailable",
        html: nginxPage("503 Service Temporarily Unavailable"), retryAfter: 2)

    private static func nginxPage(_ title: String) -> String {
        "<html>\r\n<head><title>\(title)</title></head>\r\n<body>\r\n<center><h1>\(title)</h1></center>\r\n"
            + "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    }

    /// The JSON body text.
    var jsonBody: String {
        "{\"error\":{\"type\":\(JSONText.quoted(type)),\"message\":\(JSONText.quoted(message))}}"
    }

    /// The full response; `headers` are the common Moonshot headers already computed for this request.
    func response(headers: HTTPFields) -> Response {
        var headers = headers
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let body: String
        if let html {
            headers[.contentType] = "text/html"
            body = html
        } else {
            headers[.contentType] = "application/json; charset=utf-8"
            body = jsonBody
        }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
