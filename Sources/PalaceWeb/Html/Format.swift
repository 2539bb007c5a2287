#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Numbers and times as the pages show them (the CLI's conventions: local time, ms, thousands).
enum Format {
    /// `YYYY-MM-DD HH:MM:SS` local time.
    static func localTime(_ micros: Int64) -> String {
        var t = time_t(micros / 1_000_000)
        var p = tm()
        localtime_r(&t, &p)
        return pad(Int(p.tm_year) + 1900, 4) + "-" + pad(Int(p.tm_mon) + 1, 2) + "-" + pad(Int(p.tm_mday), 2) + " "
            + pad(Int(p.tm_hour), 2) + ":" + pad(Int(p.tm_min), 2) + ":" + pad(Int(p.tm_sec), 2)
    }

    /// `HH:MM:SS` when today, else the full local time.
    static func shortTime(_ micros: Int64, now: Int64) -> String {
        let full = localTime(micros)
        return full.prefix(10) == localTime(now).prefix(10) ? String(full.dropFirst(11)) : full
    }

    /// RFC 3339 UTC with milliseconds, for machine-readable attributes.
    static func isoUTC(_ micros: Int64) -> String {
        var t = time_t(micros / 1_000_000)
        var p = tm()
        gmtime_r(&t, &p)
        return pad(Int(p.tm_year) + 1900, 4) + "-" + pad(Int(p.tm_mon) + 1, 2) + "-" + pad(Int(p.tm_mday), 2) + "T"
            + pad(Int(p.tm_hour), 2) + ":" + pad(Int(p.tm_min), 2) + ":" + pad(Int(p.tm_sec), 2) + "."
            + pad(Int((micros % 1_000_000) / 1000), 3) + "Z"
    }

    static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// `812 ms`, `1.2 s`, `14 s`; `–` when unknown.
    static func ms(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "–" }
        if v >= 10_000 { return String(Int(v / 1000)) + " s" }
        if v >= 1000 { return fixed(v / 1000, 1) + " s" }
        if v < 10 && v != v.rounded() { return fixed(v, 1) + " ms" }
        return String(Int(v.rounded())) + " ms"
    }

    static func micros(_ v: Int64?) -> String { ms(v.map { Double($0) / 1000 }) }

    static func fixed(_ v: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let n = Int64((abs(v) * scale).rounded())
        let whole = n / Int64(scale), frac = n % Int64(scale)
        let sign = v < 0 && n != 0 ? "-" : ""
        return decimals == 0 ? sign + String(whole) : sign + String(whole) + "." + pad(Int(frac), decimals)
    }

    /// 1234567 → `1,234,567`.
    static func count(_ n: Int) -> String {
        let s = String(abs(n))
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// `512 B`, `3.4 KiB`, `12.0 MiB`.
    static func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        if n < 1024 * 1024 { return fixed(Double(n) / 1024, 1) + " KiB" }
        return fixed(Double(n) / 1048576, 1) + " MiB"
    }

    /// The HTTP reason phrase MoonPalace shows.
    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"; case 201: "Created"; case 204: "No Content"; case 301: "Moved Permanently"
        case 302: "Found"; case 304: "Not Modified"; case 400: "Bad Request"; case 401: "Unauthorized"
        case 403: "Forbidden"; case 404: "Not Found"; case 405: "Method Not Allowed"; case 408: "Request Timeout"
        case 413: "Payload Too Large"; case 422: "Unprocessable Entity"; case 429: "Too Many Requests"
        case 500: "Internal Server Error"; case 502: "Bad Gateway"; case 503: "Service Unavailable"
        case 504: "Gateway Timeout"; default: ""
        }
    }
}
