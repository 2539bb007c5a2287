/// `--detect-repeat` settings (reference §8, with the windowed metric of `RepeatDetector`).
public struct RepeatSettings: Sendable, Equatable {
    /// Cut when the distinct fraction of the window's 32-character substrings falls below this (0…1). Higher =
    /// less tolerant: 0.5 (the default) cuts when more than half of the recent text repeats itself.
    public var threshold: Double
    /// Characters (Unicode scalars) a stream must have produced before it is checked (strictly more than this).
    public var minLength: Int

    public init(threshold: Double = 0.5, minLength: Int = 100) {
        self.threshold = threshold
        self.minLength = minLength
    }
}

/// `--auto-cache` settings (reference §9).
public struct AutoCacheSettings: Sendable, Equatable {
    /// Requests whose hashed prompt (tools + messages) is at most this many bytes are never cached.
    public var minBytes: Int
    /// TTL of created caches, and the `X-Msh-Context-Cache-Reset-TTL` sent on each use.
    public var ttlSeconds: Int
    /// Caches unused for this long are deleted upstream and forgotten.
    public var cleanupSeconds: Int
    /// Where the prefix → cache mapping is kept across restarts (a JSON file in the data directory).
    public var statePath: String

    public init(minBytes: Int = 4096, ttlSeconds: Int = 60, cleanupSeconds: Int = 86_400, statePath: String) {
        self.minBytes = minBytes
        self.ttlSeconds = ttlSeconds
        self.cleanupSeconds = cleanupSeconds
        self.statePath = statePath
    }
}
