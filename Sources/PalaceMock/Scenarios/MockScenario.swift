/// A fault or shape the mock can be asked to produce, per request (`X-Mock-Scenario: a,b`) or for every request
/// (`--scenario`). Names are the public contract: they appear in `moonpalace mock --help` and the README.
public enum MockScenario: String, CaseIterable, Sendable, Hashable {
    case length
    case `repeat`
    case drop
    case error500 = "error-500"
    case error502 = "error-502"
    case error503 = "error-503"
    case rateLimit = "rate-limit"
    case contentFilter = "content-filter"
    case quota
    case unauthorized
    case slowHead = "slow-head"
    case huge
    case splitSSE = "split-sse"
    case noFinalNewline = "no-final-newline"

    /// One line for help texts.
    public var summary: String {
        switch self {
        case .length: "stop early with finish_reason \"length\" (about half the normal answer, or max_tokens)"
        case .repeat: "repeat one phrase until max_tokens (default 1024), finish_reason \"length\""
        case .drop: "close the connection in the middle of the body (stream or JSON)"
        case .error500: "500 server_error in Moonshot's JSON error shape"
        case .error502: "502 Bad Gateway with nginx's HTML body"
        case .error503: "503 Service Temporarily Unavailable with nginx's HTML body and Retry-After"
        case .rateLimit: "429 rate_limit_reached_error with Retry-After: 1"
        case .contentFilter: "400 content_filter (\"considered high risk\")"
        case .quota: "429 exceeded_current_quota_error"
        case .unauthorized: "401 invalid_authentication_error, whatever the key"
        case .slowHead: "hold the response head back (--head-delay-ms, default 1500 ms)"
        case .huge: "a response of tens of MB (--huge-bytes, default 24 MiB of content; ignores max_tokens)"
        case .splitSSE: "write every SSE event in several pieces, cut inside lines and UTF-8 characters"
        case .noFinalNewline: "end the stream with \"data: [DONE]\\n\" (the last event lacks its blank line)"
        }
    }

    /// Parses a comma-separated list (`"length, drop"`); unknown names are an error naming the known ones.
    public static func parseList(_ text: String) throws(MockError) -> [MockScenario] {
        var result: [MockScenario] = []
        for part in text.split(separator: ",") {
            let name = part.trimmingSpaces()
            if name.isEmpty { continue }
            guard let scenario = MockScenario(rawValue: name.lowercased()) else {
                throw MockError.unknownScenario(name)
            }
            if !result.contains(scenario) { result.append(scenario) }
        }
        return result
    }

    /// Every name, comma-separated, for messages.
    public static var knownNames: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
