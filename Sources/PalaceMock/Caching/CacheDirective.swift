import HTTPTypes

/// A request to use a context cache: from a leading `{"role":"cache","content":"cache_id=…;reset_ttl=…"}`
/// message (ids or `tag=…`) or from the `X-Msh-Context-Cache` / `X-Msh-Context-Cache-Reset-TTL` headers (ids only).
struct CacheDirective: Sendable, Equatable {
    enum Target: Sendable, Equatable {
        case id(String)
        case tag(String)
    }

    var target: Target
    var resetTTL: Int?
    var dryRun = false
    /// Message form: the server substitutes the cached messages and tools. Header form: the request must
    /// repeat them as its prefix.
    var substitutes: Bool

    static let header = HTTPField.Name("X-Msh-Context-Cache")!
    static let resetTTLHeader = HTTPField.Name("X-Msh-Context-Cache-Reset-TTL")!
    static let dryRunHeader = HTTPField.Name("X-Msh-Context-Cache-DryRun")!

    /// Parses `cache_id=<id>;reset_ttl=<s>;dry_run=1` or `tag=<tag>;…` (semicolon-separated, no trailing `;`).
    static func parse(_ content: String) throws(APIError) -> CacheDirective {
        var target: Target?
        var reset: Int?
        var dryRun = false
        for part in content.split(separator: ";", omittingEmptySubsequences: false) {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces() }
            guard pair.count == 2, !pair[1].isEmpty else {
                throw .invalidRequest("role=cache content '\(content)' must look like 'cache_id=cache-…;reset_ttl=3600' or 'tag=my-tag'")
            }
            switch pair[0] {
            case "cache_id": target = .id(pair[1])
            case "tag": target = .tag(pair[1])
            case "reset_ttl":
                guard let seconds = Int(pair[1]), seconds > 0 else {
                    throw .invalidRequest("role=cache: reset_ttl must be a positive number of seconds (got '\(pair[1])')")
                }
                reset = seconds
            case "dry_run": dryRun = pair[1] == "1" || pair[1] == "true"
            default:
                throw .invalidRequest("role=cache: unknown key '\(pair[0])' (known: cache_id, tag, reset_ttl, dry_run)")
            }
        }
        guard let target else { throw .invalidRequest("role=cache content must name a cache_id or a tag") }
        return CacheDirective(target: target, resetTTL: reset, dryRun: dryRun, substitutes: true)
    }

    /// The header form, or nil when `X-Msh-Context-Cache` is absent.
    static func fromHeaders(_ headers: HTTPFields) throws(APIError) -> CacheDirective? {
        guard let id = headers[header]?.trimmingCharacters(), !id.isEmpty else { return nil }
        var reset: Int?
        if let text = headers[resetTTLHeader] {
            guard let seconds = Int(text.trimmingCharacters()), seconds > 0 else {
                throw .invalidRequest("X-Msh-Context-Cache-Reset-TTL must be a positive number of seconds (got '\(text)')")
            }
            reset = seconds
        }
        let dry = headers[dryRunHeader].map { $0 == "1" || $0 == "true" } ?? false
        return CacheDirective(target: .id(id), resetTTL: reset, dryRun: dry, substitutes: false)
    }
}
