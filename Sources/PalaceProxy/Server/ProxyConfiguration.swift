import PalaceLog

/// Everything `moonpalace start` decided from flags, config and defaults.
public struct ProxyConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Upstream base URL without a trailing `/` or `/v1` (client paths already start with `/v1`).
    public var endpoint: String
    /// `--key`: replaces the client's Authorization with `Bearer <key>`.
    public var key: String?
    public var idleTimeoutSeconds: Int
    public var logDirectory: String
    public var syncPolicy: SyncPolicy
    /// How long a graceful shutdown waits for in-flight exchanges.
    public var shutdownGraceSeconds: Int
    /// Token of this proxy's control requests (`ControlChannel`); nil disables them.
    public var controlToken: String?
    /// `--force-stream`: non-stream `/chat/completions` requests go upstream as streams (the client still gets JSON).
    public var forceStream = false
    /// `--detect-repeat`: cut looping streams (nil = off, the default).
    public var repeatDetection: RepeatSettings?
    /// `--auto-cache`: create and reuse context caches for long prompts (nil = off, the default).
    public var autoCache: AutoCacheSettings?
    /// MoonPalace's `server_error.log`: the HTTP server's own errors (nil = they are not recorded).
    public var serverErrorLogPath: String?

    public init(host: String = "127.0.0.1", port: Int = 9988, endpoint: String, key: String? = nil,
                idleTimeoutSeconds: Int = 300, logDirectory: String, syncPolicy: SyncPolicy = .batch,
                shutdownGraceSeconds: Int = 10, controlToken: String? = nil) {
        self.host = host
        self.port = port
        self.endpoint = Self.normalizeEndpoint(endpoint)
        self.key = key.flatMap { $0.isEmpty ? nil : $0 }
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.logDirectory = logDirectory
        self.syncPolicy = syncPolicy
        self.shutdownGraceSeconds = shutdownGraceSeconds
        self.controlToken = controlToken
    }

    /// `cn` → https://api.moonshot.cn, `global` → https://api.moonshot.ai; a URL without a scheme gets `https://`
    /// (also `host:port`, which MoonPalace mangled); trailing `/` and one trailing `/v1` are removed so paths never
    /// double (`…/v1` + `/v1/chat/completions`).
    public static func normalizeEndpoint(_ raw: String) -> String {
        var s = raw.trimmingCharacters(in: " \t")
        switch s.lowercased() {
        case "cn", "": return "https://api.moonshot.cn"
        case "global": return "https://api.moonshot.ai"
        default: break
        }
        if !(s.lowercased().hasPrefix("http://") || s.lowercased().hasPrefix("https://")) { s = "https://" + s }
        while s.hasSuffix("/") { s.removeLast() }
        if s.lowercased().hasSuffix("/v1") { s.removeLast(3) }
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var sub = Substring(self)
        while let f = sub.first, set.contains(f) { sub = sub.dropFirst() }
        while let l = sub.last, set.contains(l) { sub = sub.dropLast() }
        return String(sub)
    }
}
