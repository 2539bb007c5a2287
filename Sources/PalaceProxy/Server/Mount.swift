import Hummingbird
import PalaceLog

/// Another responder served by the proxy's own server for one path prefix instead of being forwarded upstream
/// (the web admin at `/palace/`). PalaceProxy knows nothing of what is mounted: the CLI builds the closure.
public struct ProxyMount: Sendable {
    /// Path prefix without a trailing `/`; the prefix itself and everything below it are the mount's.
    public let prefix: String
    public let respond: @Sendable (Request, BasicRequestContext) async -> Response
    /// Called with the bound port once the server listens (for the mount's own banner line).
    public let onRunning: @Sendable (Int) async -> Void

    public init(prefix: String, respond: @escaping @Sendable (Request, BasicRequestContext) async -> Response,
                onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.prefix = prefix
        self.respond = respond
        self.onRunning = onRunning
    }

    func matches(_ path: String) -> Bool {
        path == prefix || path.hasPrefix(prefix + "/")
    }
}

extension ProxyServer {
    /// Appends an annotation (good/bad case, tags) through the proxy's own log writer: while `start` runs it
    /// holds the log's only writer, so whatever else in the process annotates must come through here.
    public func appendAnnotation(_ annotation: Annotation) async throws {
        _ = try await context.writer.append(.annotation(annotation))
    }
}
