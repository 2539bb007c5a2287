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

    func has(_ scenario: MockScenario) -> Bool { scenarios.contains(scenario) }

    static let scenarioHeader = HTTPField.Name("X-Mock-Scenario")!
    static let firstTokenDelayHeader = HTTPField.Name("X-Mock-First-Token-Delay-Ms")!
    static let chunkDelayHeader = HTTPField.Name("X-Mock-Chunk-Delay-Ms")!
    static let chunksHeader = HTTPField.Name("X-Mock-Chunks")!

    /// Resolves the settings; a malformed `X-Mock-*` header is a 400 naming the header and the accepted values.
    static func resolve(options: MockOptions, headers: HTTPFields) throws(APIError) -> RequestSettings {
        var scenarios = Set(options.scenarios)
        for value in headers[values: scenarioHeader] {
            do {
                scenarios.formUnion(try MockScenario.parseList(value))
            } catch {
                throw APIError.invalidRequest("X-Mock-Scenario: \(error.description)")
            }
        }
        return RequestSettings(
            scenarios: scenarios,
            firstTokenDelayMs: try integer(headers, firstTokenDelayHeader, range: 0...600_000) ?? options.firstTokenDelayMs,
            chunkDelayMs: try integer(headers, chunkDelayHeader, range: 0...600_000) ?? options.chunkDelayMs,
            chunks: try integer(headers, chunksHeader, range: 1...1_000_000) ?? options.chunks,
            headDelayMs: options.headDelayMs,
            hugeBytes: options.hugeBytes,
            seed: options.seed)
    }

    private static func integer(_ headers: HTTPFields, _ name: HTTPField.Name, range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let text = headers[name] else { return nil }
        guard let value = Int(text.trimmingCharacters()), range.contains(value) else {
            throw APIError.invalidRequest(
                "header \(name.rawName) must be an integer in \(range.lowerBound)...\(range.upperBound) (got '\(text)')")
        }
        return value
    }
}

extension String {
    func trimmingCharacters() -> String { Substring(self).trimmingSpaces() }
}
