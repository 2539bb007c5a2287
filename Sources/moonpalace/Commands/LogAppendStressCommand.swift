import ArgumentParser
import PalaceLog

#if canImport(Glibc)
import Glibc
#endif

/// `moonpalace log _append-stress` (hidden): the child process of the crash tests. Appends begin records from
/// several concurrent producers and prints `<id> <exchange> <key>` for each acknowledged append, flushed at once,
/// so a parent that kill -9s it knows exactly what was acknowledged. The record with key K has target
/// `/stress/K` and a body of `K.` repeated to `--size` bytes.
struct LogAppendStressCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_append-stress", abstract: "Crash-test child: append and print acknowledged ids.",
        shouldDisplay: false)

    @OptionGroup var data: DataDirOptions
    @Option(help: "Records to append (default: until killed).") var count: Int = Int.max
    @Option(help: "Body bytes per record.") var size: Int = 2000
    @Option(help: "Concurrent producers.") var concurrency: Int = 8
    @Option(help: "fsync policy: always, batch or none.") var sync: String = "batch"
    @Option(help: "Segment size limit in bytes (small values exercise rolling).") var segmentBytes: UInt64 = 64 << 20

    func run() async throws {
        let dir = try data.open()
        guard let policy = SyncPolicy(rawValue: sync) else { throw ValidationError("--sync must be always, batch or none") }
        var options = LogWriterOptions(syncPolicy: policy)
        options.segmentMaxBytes = segmentBytes
        let writer: LogWriter
        do { writer = try LogWriter.open(directory: dir.logDirectory, options: options) } catch {
            throw logCommandFailure(error.description)
        }
        let pid = getpid()
        let (count, size, concurrency) = (count, size, concurrency)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<concurrency {
                group.addTask {
                    var i = p
                    while i < count {
                        let key = "\(pid)-\(i)"
                        let begin = ExchangeBegin(startedAt: 0, method: "POST", target: "/stress/\(key)",
                                                  endpoint: "stress", requestBody: Self.body(key: key, size: size))
                        let (x, r) = try await writer.appendBegin(begin)
                        Self.emit("\(r.sequence) \(x) \(key)\n")
                        i += concurrency
                    }
                }
            }
            try await group.waitForAll()
        }
        try await writer.close()
    }

    static func body(key: String, size: Int) -> [UInt8] {
        let unit = Array((key + ".").utf8)
        return (0..<size).map { unit[$0 % unit.count] }
    }

    /// One write(2) per line: the line is out of this process before the next append starts.
    static func emit(_ line: String) {
        var s = line
        s.withUTF8 { b in _ = write(1, b.baseAddress, b.count) }
    }
}
