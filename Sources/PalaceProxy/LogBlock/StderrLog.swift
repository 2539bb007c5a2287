#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import Synchronization

/// MoonPalace-style stderr lines: `[MoonPalace] YYYY/MM/DD HH:MM:SS message` (prefix bold green on a terminal).
///
/// Invariant: one call is one `write(2)` under a lock, so blocks of concurrent exchanges never interleave; lines come
/// out in the order of the calls (`log`, `raw`, `logSoon`).
///
/// `logSoon` takes the exchange's log block out of the exchange's own task: on an event loop, the block is rendered
/// and written by a task queued behind it, and the blocks queued meanwhile (under load, those of every exchange that
/// ended in the same loop tick) share that one `write(2)`. A `log`/`raw` call writes the queued blocks first, so the
/// order holds. (It does not reliably come after the client's response: `perf trace` showed Hummingbird's write of a
/// buffered response still later, even behind four rounds of queued tasks.)
public final class StderrLog: Sendable {
    let style: TerminalStyle
    /// `[MoonPalace] ` as styled for this stderr.
    private let prefix: String
    private let lock = Mutex(())
    private struct Queue {
        var renders: [@Sendable () -> String] = []
        var flushScheduled = false
    }
    private let queue = Mutex(Queue())
    private struct Stamp { var second = 0; var text = "" }
    private let stamp = Mutex(Stamp())

    public init(environment: [String: String]) {
        style = TerminalStyle.forStderr(environment: environment)
        prefix = style.boldGreen("[MoonPalace]") + " "
    }

    /// Writes `message` (may span lines) with the prefix on its first line.
    public func log(_ message: String) {
        raw(line(message))
    }

    /// Like `log(render())`, soon: after the current event-loop task (see the type's comment); at once off a loop.
    func logSoon(_ render: @escaping @Sendable () -> String) {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else { log(render()); return }
        let schedule = queue.withLock { q -> Bool in
            q.renders.append(render)
            defer { q.flushScheduled = true }
            return !q.flushScheduled
        }
        if schedule { loop.execute { self.flush() } }
    }

    /// Writes what `logSoon` queued (at shutdown; the scheduled task does it otherwise).
    public func flush() { raw("") }

    /// Writes `text` exactly (banner, blocks that carry their own prefix), after anything `logSoon` queued.
    public func raw(_ text: String) {
        lock.withLock { _ in
            let queued = queue.withLock { q -> [@Sendable () -> String] in
                defer { q.renders.removeAll(); q.flushScheduled = false }
                return q.renders
            }
            var all: String
            if queued.isEmpty {
                all = text
            } else {
                all = ""
                for render in queued { appendLine(render(), to: &all) }
                all += text
            }
            all.withUTF8 { bytes in
                var done = 0
                while done < bytes.count {
                    let n = write(2, bytes.baseAddress! + done, bytes.count - done)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    done += n
                }
            }
        }
    }

    private func line(_ message: String) -> String {
        var out = ""
        appendLine(message, to: &out)
        return out
    }

    /// Appends `message` as one log line: the prefix, the time, the message, a newline.
    private func appendLine(_ message: String, to out: inout String) {
        out += prefix
        out += timestamp()
        out += " "
        out += message
        out += "\n"
    }

    /// `Self.timestamp()`, made once a second.
    private func timestamp() -> String {
        let now = Int(time(nil))
        if let known = stamp.withLock({ $0.second == now ? $0.text : nil }) { return known }
        let text = Self.timestamp()
        stamp.withLock { $0 = Stamp(second: now, text: text) }
        return text
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
