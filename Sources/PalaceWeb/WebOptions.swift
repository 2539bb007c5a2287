import PalaceIndex
import PalaceLog

/// How the web admin is served: where, behind which token, and what it may do beyond reading.
///
/// The web module never imports PalaceProxy: whatever needs the proxy (its log writer inside `start`, replay)
/// arrives here as closures from the CLI, so `moonpalace web` and `moonpalace start` share every page.
public struct WebOptions: Sendable {
    /// URL path prefix of every page, without a trailing `/` (default `/palace`).
    public var prefix: String
    /// Access token. Required (non-nil) when `host` is not a loopback address; optional on loopback.
    public var token: String?
    /// The interface the server listens on; decides whether a token is required and which `Host` headers pass.
    public var host: String
    /// Rows per list page (at most 500 from the query string).
    public var pageSize: Int
    /// Bodies longer than this are cut for display (the raw link serves them whole).
    public var displayLimit: Int
    /// Characters of one conversation message shown before it is cut.
    public var messageLimit: Int
    /// How often the live feed looks for new log records.
    public var pollInterval: Duration
    /// Something else keeps the index current (`start` runs an index tailer): the live feed then works only while a
    /// page listens on `/events`, instead of catching the index up beside the tailer on every poll (a second
    /// ingest of every exchange, on the proxy's CPU, for nobody).
    public var indexKeptCurrent = false

    public init(prefix: String = "/palace", token: String? = nil, host: String = "127.0.0.1", pageSize: Int = 50,
                displayLimit: Int = 256 * 1024, messageLimit: Int = 32_000, pollInterval: Duration = .milliseconds(200)) {
        var p = prefix
        while p.hasSuffix("/") { p.removeLast() }
        if !p.hasPrefix("/") { p = "/" + p }
        self.prefix = p
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        self.host = host
        self.pageSize = pageSize
        self.displayLimit = displayLimit
        self.messageLimit = messageLimit
        self.pollInterval = pollInterval
    }

    /// 127.0.0.0/8, ::1 and `localhost`: only this machine can connect.
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        if h == "localhost" || h == "::1" || h == "[::1]" { return true }
        // 127.0.0.0/8 written as an address (not a name such as 127.0.0.1.example.com).
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127"
            && parts.allSatisfy { p in !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isASCII) && p.allSatisfy(\.isNumber) && Int(p)! <= 255 }
    }

    /// Nil when the options can be served; otherwise why not (a person can act on it).
    public var problem: String? {
        if !Self.isLoopback(host) && token == nil {
            return "the web admin on \(host) needs an access token: pass --web-token TOKEN "
                + "(on a non-loopback address anyone who can reach the port could read every prompt)"
        }
        return nil
    }
}

/// What the web admin may change, supplied by the CLI.
public struct WebActions: Sendable {
    /// Appends one annotation record to the log (good/bad, tags). Inside `start` this is the proxy's own writer;
    /// `moonpalace web` opens the log writer for the moment of the write.
    public var annotate: @Sendable (Annotation) async throws -> Void
    /// Sends a recorded exchange again so that the new exchange is recorded too (linked by `replay_of`); returns
    /// the new exchange's id when it was found on the log. Nil = replay unavailable here.
    public var replay: (@Sendable (LoadedExchange) async throws -> Int64?)?
    /// Why replay is unavailable (shown instead of the button), when `replay` is nil.
    public var replayUnavailable: String

    public init(annotate: @escaping @Sendable (Annotation) async throws -> Void,
                replay: (@Sendable (LoadedExchange) async throws -> Int64?)? = nil,
                replayUnavailable: String = "replay is not available here") {
        self.annotate = annotate
        self.replay = replay
        self.replayUnavailable = replayUnavailable
    }

    /// Annotations through a writer opened for each write and closed again, so a `moonpalace start` launched later
    /// is not locked out. Fails with PalaceLog's "another moonpalace (pid N) is writing" while a proxy runs.
    public static func openingWriter(logDirectory: String) -> @Sendable (Annotation) async throws -> Void {
        { annotation in
            let writer = try LogWriter.open(directory: logDirectory, options: LogWriterOptions(syncPolicy: .always))
            do {
                _ = try await writer.append(.annotation(annotation))
                try await writer.sync()
            } catch {
                try? await writer.close()
                throw error
            }
            try await writer.close()
        }
    }
}
