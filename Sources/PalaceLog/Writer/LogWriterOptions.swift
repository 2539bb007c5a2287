/// When the writer calls fsync(2). Every append reaches the OS (write(2)) before it returns, whatever the policy,
/// so records survive a crash of the process; the policy only decides what survives a crash of the machine.
public enum SyncPolicy: String, Sendable, CaseIterable {
    /// fsync before each append returns (a group of concurrent appends shares one fsync).
    case always
    /// Group commit: written records are fsync'd at most 100 ms later.
    case batch
    /// Never fsync except on `sync()`, segment roll and close.
    case none
}

/// Tuning of a `LogWriter`. Defaults follow DESIGN.md.
public struct LogWriterOptions: Sendable {
    public var syncPolicy: SyncPolicy = .batch
    /// Roll to a new segment once the active one would pass this size (a single larger record gets its own segment).
    public var segmentMaxBytes: UInt64 = 64 << 20
    /// Roll to a new segment once the active one is older than this many seconds.
    public var segmentMaxAge: Double = 24 * 3600
    /// Longest delay between a write and its fsync under `.batch`, in milliseconds.
    public var batchSyncIntervalMs: Int = 100
    /// Compress payloads with LZ4 (a record that does not shrink is stored raw either way).
    public var compression: Bool = true
    /// Payload bytes per second compressed with LZ4HC (smaller records, ~5× the CPU); beyond it, LZ4 fast.
    /// 0 = always fast. Either way the stored block format is the same.
    public var highCompressionBytesPerSecond: Int = 2 << 20
    /// The LZ4 dictionary used for new records; 0 = none. See FORMAT.md, "Dictionary".
    public var dictionaryID: UInt16 = LZ4Dictionary.currentID
    /// The file layer; tests swap in one that fails like a full disk.
    public var fileIO: FileIO = .system

    public init(syncPolicy: SyncPolicy = .batch, segmentMaxBytes: UInt64 = 64 << 20,
                segmentMaxAge: Double = 24 * 3600) {
        self.syncPolicy = syncPolicy; self.segmentMaxBytes = segmentMaxBytes; self.segmentMaxAge = segmentMaxAge
    }
}
