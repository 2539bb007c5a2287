#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// MoonPalace-style stderr lines: `[MoonPalace] YYYY/MM/DD HH:MM:SS message` (prefix bold green on a terminal).
///
/// Invariant: one call is one `write(2)` under a lock, so blocks of concurrent exchanges never interleave.
public final class StderrLog: Sendable {
    let style: TerminalStyle
    private let lock = Mutex(())

    public init(environment: [String: String]) {
        style = TerminalStyle.forStderr(environment: environment)
    }

    /// Writes `message` (may span lines) with the prefix on its first line.
    public func log(_ message: String) {
        let text = style.boldGreen("[MoonPalace]") + " " + Self.timestamp() + " " + message + "\n"
        raw(text)
    }

    /// Writes `text` exactly (banner, blocks that carry their own prefix).
    public func raw(_ text: String) {
        var bytes = Array(text.utf8)
        lock.withLock { _ in
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + done, $0.count - done) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                done += n
            }
        }
        bytes.removeAll()
    }

    /// Local time as `YYYY/MM/DD HH:MM:SS`.
    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)/\(two(parts.tm_mon + 1))/\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }
}
