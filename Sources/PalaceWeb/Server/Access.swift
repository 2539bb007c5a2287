import HTTPTypes
import Hummingbird

/// Who may use the web admin, and which requests may change something.
///
/// - Token: when set, a request must carry it as the `palace_token` cookie, an `Authorization: Bearer` header,
///   or once as `?token=` (answered with a redirect that drops it from the URL and sets the HttpOnly cookie).
/// - Host check: bound to loopback without a token, the `Host` header must name a loopback address, so a web
///   page elsewhere cannot reach the admin through DNS rebinding.
/// - CSRF: every POST carries the per-process `csrf` value that only the admin's own pages contain, and a
///   browser-sent `Origin` must match the `Host`. A restart changes the value (the page says to reload).
struct Access: Sendable {
    static let cookieName = "palace_token"
    let token: String?
    let loopbackOnly: Bool
    let csrf: String
    let prefix: String

    init(options: WebOptions) {
        token = options.token
        loopbackOnly = WebOptions.isLoopback(options.host)
        csrf = Self.randomHex(16)
        prefix = options.prefix
    }

    enum Decision {
        case allow
        /// Redirect to `location`, setting the token cookie.
        case acceptToken(location: String)
        case deny(status: HTTPResponse.Status, message: String)
    }

    func check(_ request: Request) -> Decision {
        if token == nil && loopbackOnly, let host = request.head.authority {
            if !Self.isLoopbackAuthority(host) {
                return .deny(status: .forbidden, message: "this web admin only answers requests addressed to 127.0.0.1 or "
                             + "localhost (Host was '\(host)'); start it with --host and --web-token to serve other names")
            }
        }
        guard let token else { return .allow }
        let query = FormData(request.uri.query ?? "")
        if let given = query["token"] {
            guard Self.equal(given, token) else {
                return .deny(status: .unauthorized, message: "the token in the URL is not this web admin's token")
            }
            let rest = query.pairs.filter { $0.0 != "token" }
            let location = request.uri.path + (rest.isEmpty ? "" : "?" + HTML.query(rest))
            return .acceptToken(location: location)
        }
        if let cookie = request.cookies[Self.cookieName]?.value, Self.equal(cookie, token) { return .allow }
        if let auth = request.headers[.authorization], auth.hasPrefix("Bearer "),
           Self.equal(String(auth.dropFirst(7)), token) { return .allow }
        return .deny(status: .unauthorized, message: "this web admin needs its access token: open "
                     + "\(prefix)/?token=TOKEN once (TOKEN is the --web-token it was started with); a cookie keeps it afterwards")
    }

    func cookie() -> String {
        "\(Self.cookieName)=\(token ?? ""); Path=\(prefix); HttpOnly; SameSite=Strict"
    }

    /// Nil when a POST may proceed; otherwise the reason it may not.
    func checkPost(_ request: Request, form: FormData) -> String? {
        if let origin = request.headers[.origin], let host = request.head.authority {
            let originHost = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
            if originHost?.lowercased() != host.lowercased() {
                return "cross-site request refused (Origin \(origin) does not match Host \(host))"
            }
        }
        guard let given = form["csrf"] ?? request.headers[HTTPField.Name("X-CSRF-Token")!] else {
            return "the form has no CSRF token; reload the page and try again"
        }
        guard Self.equal(given, csrf) else {
            return "the form's CSRF token is out of date (the server restarted?); reload the page and try again"
        }
        return nil
    }

    static func isLoopbackAuthority(_ authority: String) -> Bool {
        var host = Substring(authority)
        if host.hasPrefix("[") {
            host = host.dropFirst().prefix { $0 != "]" }
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        return WebOptions.isLoopback(String(host))
    }

    /// Constant-time comparison (the token is a secret).
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return diff == 0
    }

    static func randomHex(_ bytes: Int) -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in HTML.hex2(UInt8.random(in: 0...255, using: &g)) }.joined().lowercased()
    }
}
