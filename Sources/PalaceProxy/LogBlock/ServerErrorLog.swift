#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// `<data>/server_error.log`, as in MoonPalace: an append-only file for the HTTP server's own errors — what is not
/// an exchange and so has no record: a client speaking broken HTTP, a listening-socket error, a shutdown that had
/// to give up on connections. Exchanges (including failed ones) are never written here; they are in the log.
///
/// Unlike MoonPalace (mode 0666), the file is private (0600) like the rest of the data directory. Each line is one
/// `write(2)` on an O_APPEND descriptor: lines from several threads or processes never interleave. A file that
/// cannot be opened or written costs a single notice on stderr, never the proxy.
public final class ServerErrorLog: Sendable {
    public let path: String
    private let fd: Int32
    private let notice: @Sendable (String) -> Void

    /// Opens (creating if missing) the file. `notice` hears once why it could not be opened, if so.
    public init(path: String, notice: @escaping @Sendable (String) -> Void) {
        self.path = path
        self.notice = notice
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 {
            notice("moonpalace: cannot open \(path) (\(String(cString: strerror(errno)))); server errors go unrecorded")
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends `2026-11-29T15:40:01.123Z <level> <message>` (message on one line).
    public func append(level: Logger.Level, _ message: String) {
        guard fd >= 0 else { return }
        var line = Self.timestamp()
        line += " \(level) "
        line += message.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n")
        line += "\n"
        let bytes = Array(line.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written != bytes.count {
            notice("moonpalace: cannot write \(path) (\(String(cString: strerror(errno))))")
        }
    }

    private static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }

    /// A swift-log handler writing to this file: the HTTP server's logger (warnings and errors).
    public func logHandler(label: String) -> ServerErrorLogHandler { ServerErrorLogHandler(file: self) }
}

/// swift-log → `ServerErrorLog`. Metadata is appended as `key=value`.
public struct ServerErrorLogHandler: LogHandler {
    let file: ServerErrorLog
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .warning

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        var all = metadata
        if let extra { all.merge(extra) { $1 } }
        var text = message.description
        for (key, value) in all.sorted(by: { $0.key < $1.key }) { text += " \(key)=\(value)" }
        self.file.append(level: level, text)
    }
}
