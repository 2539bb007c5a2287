/// Errors of the PalaceMock module that a person configuring or starting the mock can act on.
/// (Errors *served to clients* are `APIError` values, not thrown.)
public enum MockError: Error, Sendable, CustomStringConvertible, Equatable {
    case unknownScenario(String)
    case invalidOption(String)
    case bindFailed(host: String, port: Int, reason: String)

    public var description: String {
        switch self {
        case .unknownScenario(let name):
            "unknown mock scenario '\(name)'; known scenarios: \(MockScenario.knownNames)"
        case .invalidOption(let message):
            message
        case .bindFailed(let host, let port, let reason):
            "cannot listen on \(host):\(port): \(reason) (is another process using the port? try --port 0)"
        }
    }
}
