import HTTPTypes

/// The mock's behaviour for one request: the server options overlaid with the request's `X-Mock-*` headers.
struct RequestSettings: Sendable {
    var scenarios: Set<MockScenario>
    var firstTokenDelayMs: Int
    var chunkDelayMs: Int
    var chunks: Int?
    var headDelayMs: Int
    var hugeBytes: Int
    var seed: UInt64
    /// `X-Mock-Gzip`: gzip the response body when the request's `Accept-Encoding` allows it.
    var gzip = false
    /// `X-Mock-Timestamps`: an SSE comment `: t=<unix seconds.µs>` before every event, stamped when it is written.
    var timestamps = false
    /// `X-Mock-Completion-Id`: the chat completion's `id` instead of a generated `chatcmpl-…` (any text; JSON-escaped).
    var completionID: String?

    func has(_ scenario: MockScenario) -> Bool { scenarios.contains(scenario) }

    static let scenarioHeader = HTTPField.Name("X-Mock-Scenario")!
    static let firstTokenDelayHeader = HTTPField.Name("X-Mock-First-Token-Delay-Ms")!
    static let chunkDelayHeader = HTTPField.Name("X-Mock-Chunk-Delay-Ms")!
    static let chunksHeader = HTTPField.Name("X-Mock-Chunks")!
    static let headDelayHeader = HTTPField.Name("X-Mock-Head-Delay-Ms")!
    static let gzipHeader = HTTPField.Name("X-Mock-Gzip")!
    static let timestampsHeader = HTTPField.Name("X-Mock-Timestamps")!
    static let completionIDHeader = HTTPField.Name("X-Mock-Completion-Id")!

    /// Resolves the settings in one pass over the headers (a request without `X-Mock-*` headers costs one prefix
    /// test per header); a malformed `X-Mock-*` header is a 400 naming the header and the accepted values.
    /// Unknown `X-Mock-*` names are ignored, as a real server ignores headers it does not know.
    static func resolve(options: MockOptions, headers: HTTPFields) throws(APIError) -> RequestSettings {
        var settings = RequestSettings(
            scenarios: Set(options.scenarios),
            firstTokenDelayMs: options.firstTokenDelayMs,
            chunkDelayMs: options.chunkDelayMs,
            chunks: options.chunks,
            headDelayMs: options.headDelayMs,
            hugeBytes: options.hugeBytes,
            seed: options.seed)
        var seen: Set<String> = []
        for field in headers {
            let name = field.name.canonicalName
            guard name.hasPrefix("x-mock-") else { continue }
            // The first occurrence of a single-valued header wins (scenarios add up).
            if name != "x-mock-scenario" && !seen.insert(name).inserted { continue }
            switch name {
            case "x-mock-scenario":
                do {
                    settings.scenarios.formUnion(try MockScenario.parseList(field.value))
                } catch {
                    throw APIError.invalidRequest("X-Mock-Scenario: \(error.description)")
                }
            case "x-mock-first-token-delay-ms":
                settings.firstTokenDelayMs = try integer(field.value, firstTokenDelayHeader, range: 0...600_000)
            case "x-mock-chunk-delay-ms":
                settings.chunkDelayMs = try integer(field.value, chunkDelayHeader, range: 0...600_000)
            case "x-mock-chunks":
                settings.chunks = try integer(field.value, chunksHeader, range: 1...1_000_000)
            case "x-mock-head-delay-ms":
                settings.headDelayMs = try integer(field.value, headDelayHeader, range: 0...600_000)
            case "x-mock-gzip":
                settings.gzip = try flag(field.value, gzipHeader)
            case "x-mock-timestamps":
                settings.timestamps = try flag(field.value, timestampsHeader)
            case "x-mock-completion-id":
                settings.completionID = field.value
            default:
                break
            }
        }
        return settings
    }

    private static func integer(_ text: String, _ name: HTTPField.Name, range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let value = Int(text.trimmingCharacters()), range.contains(value) else {
            throw APIError.invalidRequest(
                "header \(name.rawName) must be an integer in \(range.lowerBound)...\(range.upperBound) (got '\(text)')")
        }
        return value
    }

    private static func flag(_ text: String, _ name: HTTPField.Name) throws(APIError) -> Bool {
        switch text.trimmingCharacters().lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw APIError.invalidRequest("header \(name.rawName) must be 1 or 0 (got '\(text)')")
        }
    }
}

extension String {
    func trimmingCharacters() -> String { Substring(self).trimmingSpaces() }
}
