import ArgumentParser
import PalaceIndex
import PalaceLog
import PalaceWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shared wiring of the read commands (list, inspect, search, stats, cleanup, index): open the index with
/// notices on stderr, catch it up with the log, print errors the CLI way, format times and tables.
enum IndexCLI {
    /// Opens the data directory's index and catches it up (so `list` right after a call shows it).
    static func open(_ data: DataDirOptions, catchUp: Bool = true) throws -> (ExchangeIndex, DataDirectory) {
        let (index, dir, _) = try openWithConfig(data, catchUp: catchUp)
        return (index, dir)
    }

    /// `open` plus the configuration that applies (config.yaml or config.yml, the one `start` reads).
    static func openWithConfig(_ data: DataDirOptions, catchUp: Bool = true) throws -> (ExchangeIndex, DataDirectory, ConfigFile) {
        let (dir, config) = try data.openWithConfig()
        let index = try ExchangeIndex(dataDirectory: dir, notice: { note($0) })
        if catchUp {
            let tty = isatty(2) != 0
            let report = try index.catchUp(progress: tty ? { n, _ in if n >= 20_000 { progressLine("indexing", n) } } : nil)
            if tty && report.records >= 20_000 { IndexCLI.err("\r\u{1B}[K") }
            for d in report.damage.prefix(3) { note("log damage skipped: \(d)") }
        }
        return (index, dir, config)
    }

    /// The exchange chosen by `--id`, `--chatcmpl` or `--requestid`, with its summary and decoded records.
    static func select(_ index: ExchangeIndex, id: Int64?, chatcmpl: String?, requestID: String?) throws -> (ExchangeSummary, LoadedExchange) {
        guard let found = try index.find(id: id, chatcmpl: chatcmpl, requestID: requestID),
              let s = try index.summary(id: found), let ex = try index.exchange(id: found) else {
            if let id, let removed = index.removedFromLog(id: id) { throw IndexError.notFound(removed) }
            throw IndexError.notFound("no exchange matches the selection; try 'moonpalace list'")
        }
        return (s, ex)
    }

    /// Writes to stderr without buffering (no shared `FILE*`, which Swift 6 rejects as global mutable state).
    static func err(_ s: String) { writeAll(2, s) }

    static func writeAll(_ fd: Int32, _ s: String) {
        var bytes = Array(s.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { if errno == EINTR { continue }; return }
            bytes = bytes.dropFirst(n)
        }
    }

    static func note(_ s: String) { IndexCLI.err("moonpalace: \(s)\n") }

    static func progressLine(_ what: String, _ n: Int) {
        IndexCLI.err("\r\(what): \(n) records…")
    }

    /// Runs a command body; a failure becomes `error: <message>` on stderr and exit status 2 (MoonPalace's).
    static func run(_ body: () throws -> Void) throws {
        do { try body() } catch let e as ExitCode { throw e } catch let e as ValidationError { throw e } catch {
            IndexCLI.err("error: \(error)\n")
            throw ExitCode(2)
        }
    }

    static func runAsync(_ body: () async throws -> Void) async throws {
        do { try await body() } catch let e as ExitCode { throw e } catch let e as ValidationError { throw e } catch {
            IndexCLI.err("error: \(error)\n")
            throw ExitCode(2)
        }
    }

    /// A time flag value (`--since`, `--until`, `--before`) → Unix µs, or a usage error naming the formats.
    static func time(_ text: String?, flag: String, end: Bool = false) throws -> Int64? {
        guard let text else { return nil }
        guard let t = TimeExpression.parse(text) else {
            throw ValidationError("\(flag): cannot read \"\(text)\" as a time; use YYYY-MM-DD, 'YYYY-MM-DD HH:MM:SS', "
                                  + "RFC 3339 or an age like 30m, 2h, 3d")
        }
        return end ? t.end : t.start
    }

    /// `YYYY-MM-DD HH:MM:SS` in local time (MoonPalace's `requested_at`).
    static func localTime(_ micros: Int64) -> String {
        var t = time_t(micros / 1_000_000)
        var parts = tm()
        localtime_r(&t, &parts)
        return String(format4(Int(parts.tm_year) + 1900)) + "-" + two(Int(parts.tm_mon) + 1) + "-" + two(Int(parts.tm_mday))
            + " " + two(Int(parts.tm_hour)) + ":" + two(Int(parts.tm_min)) + ":" + two(Int(parts.tm_sec))
    }

    /// RFC 3339 in UTC with milliseconds (`2026-11-23T19:09:45.123Z`).
    static func rfc3339(_ micros: Int64) -> String {
        var t = time_t(micros / 1_000_000)
        var p = tm()
        gmtime_r(&t, &p)
        let ms = Int((micros % 1_000_000) / 1000)
        return format4(Int(p.tm_year) + 1900) + "-" + two(Int(p.tm_mon) + 1) + "-" + two(Int(p.tm_mday)) + "T"
            + two(Int(p.tm_hour)) + ":" + two(Int(p.tm_min)) + ":" + two(Int(p.tm_sec)) + "."
            + String(repeating: "0", count: 3 - String(ms).count) + String(ms) + "Z"
    }

    static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
    static func format4(_ n: Int) -> String { String(repeating: "0", count: max(0, 4 - String(n).count)) + String(n) }

    /// Milliseconds for tables: `812`, `1.2s`, `-` when unknown.
    static func ms(_ v: Double?) -> String {
        guard let v else { return "-" }
        if v >= 10_000 { return String(Int(v / 1000)) + "s" }
        if v >= 1000 { return String(Int(v / 100) / 10) + "." + String(Int(v / 100) % 10) + "s" }
        return String(Int(v.rounded())) + "ms"
    }

    /// A JSON number for a Double (integers without ".0"; three decimals at most).
    static func number(_ v: Double?) -> JSONValue {
        guard let v else { return .null }
        if v == v.rounded() && abs(v) < 1e15 { return .number(String(Int64(v))) }
        return .number(String((v * 1000).rounded() / 1000))
    }

    static func int(_ v: Int?) -> JSONValue { v.map { JSONValue.number(String($0)) } ?? .null }
    static func string(_ v: String?) -> JSONValue { v.map(JSONValue.string) ?? .null }

    /// HTTP reason phrases for the status column (MoonPalace shows the phrase, not the number).
    static func reason(_ status: Int) -> String {
        let phrases: [Int: String] = [
            200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large",
            422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout",
        ]
        return phrases[status] ?? String(status)
    }

    /// Width the table may take: the terminal's when stdout is one, else $COLUMNS, else unlimited.
    static func terminalWidth() -> Int? {
        var ws = winsize()
        if isatty(1) != 0, ioctl(1, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 { return Int(ws.ws_col) }
        if let c = getenv("COLUMNS").map({ String(cString: $0) }), let n = Int(c), n > 0 { return n }
        return nil
    }

    /// Writes `s` to stdout followed by a newline (unbuffered-safe for pipes).
    static func out(_ s: String) {
        writeAll(1, s + "\n")
    }
}
