import PalaceLog

/// MoonPalace's per-exchange stderr block (reference §5.3), printed after the exchange ends.
///
/// Lines, in order: request line; request headers of interest; response headers of interest and Moonshot headers;
/// completion facts; the upstream error body (status ≥ 400, not "anything but 200" as MoonPalace did) or the
/// proxy failure; warnings; and last `New Row Inserted: last_insert_id=N` with N the exchange id — or, when capture
/// failed, a line saying the exchange was not recorded.
struct LogBlock {
    var method = ""
    var target = ""
    var status = 0
    var reason = ""
    var latencySeconds = 0.0
    var requestContentType: String?
    var upstreamAcceptEncoding: String?
    var clientRequestID: String?
    var responseContentType: String?
    var responseContentEncoding: String?
    var mshRequestID: String?
    var serverTimingMs: Double?
    var contextCacheID: String?
    var uid: String?
    var gid: String?
    var completionID: String?
    var ttftSeconds: Double?
    var tpotSeconds: Double?
    var otps: Double?
    var usage: Usage?
    var upstreamErrorBody: String?
    var proxyError: String?
    var warnings: [String] = []
    var exchangeID: UInt64?

    func render(style: TerminalStyle) -> String {
        // One string, appended to in place (no array of lines to join: this runs for every exchange).
        var out = ""
        out.reserveCapacity(1024)
        func line(_ parts: String...) {
            if !out.isEmpty { out += "\n" }
            for part in parts { out += part }
        }
        let statusText = status == 0 ? "" : "\(status) \(reason)"
        let coloured = statusText.hasPrefix("2") ? style.green(statusText) : style.red(statusText)
        line(style.boldYellow(method.padding(6)), " ", style.boldWhite(target), " ", coloured, " ",
             Self.fixed(latencySeconds, 2), "s")
        if let requestContentType {
            line("  - Request Headers: ")
            line("    - Content-Type:    ", requestContentType)
            if let upstreamAcceptEncoding { line("    - Accept-Encoding: ", upstreamAcceptEncoding) }
            if let clientRequestID { line("    - X-Request-Id:    ", clientRequestID) }
        }
        if let responseContentType {
            line("  - Response Headers: ")
            line("    - Content-Type:         ", responseContentType)
            if let responseContentEncoding { line("    - Content-Encoding:     ", responseContentEncoding) }
        }
        if let mshRequestID {
            line("    - Msh-Request-Id:       ", mshRequestID)
            if let serverTimingMs { line("    - Server-Timing:        ", Self.fixed(serverTimingMs / 1000, 4), " s") }
            line("    - Msh-Context-Cache-Id: ", contextCacheID ?? "<no-cache>")
            if let uid, !uid.isEmpty {
                line("    - Msh-Uid:              ", uid)
                line("    - Msh-Gid:              ", gid ?? "")
            }
        }
        if let completionID {
            line("  - Response: ")
            line("    - id:                ", completionID)
            if let ttftSeconds, ttftSeconds > 0 { line("    - ttft:              ", Self.fixed(ttftSeconds, 4), " s") }
            if let tpotSeconds, let otps {
                line("    - tpot:              ", Self.fixed(tpotSeconds, 4), " s/token")
                line("    - otps:              ", Self.fixed(otps, 4), " tokens/s")
            }
            line("    - prompt_tokens:     ", usage.map { String($0.promptTokens) } ?? "unknown")
            line("    - completion_tokens: ", usage.map { String($0.completionTokens) } ?? "unknown")
            line("    - total_tokens:      ", usage.map { String($0.totalTokens) } ?? "unknown")
            if let cached = usage?.cachedTokens, cached > 0 { line("    - cached_tokens:     ", String(cached)) }
        }
        if let upstreamErrorBody {
            line("  - Moonshot Error: ")
            for text in upstreamErrorBody.split(separator: "\n", omittingEmptySubsequences: false).prefix(40) {
                line(style.boldYellow("    " + text))
            }
        }
        if let proxyError {
            for text in proxyError.split(separator: "\n") { line(style.boldRed("  " + text)) }
        }
        for warning in warnings { line(style.boldYellow("  [WARNING] \(warning)")) }
        if let exchangeID {
            line("  New Row Inserted: last_insert_id=", String(exchangeID))
        } else {
            line(style.boldRed("  Not recorded: capture is failing (see the warnings above)"))
        }
        return out
    }

    /// `value` with exactly `digits` decimals (no Foundation formatting on the hot path).
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value > 0 ? "+Inf" : "-Inf") }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let negative = value < 0
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e15 else { return String(value) }
        let whole = Int(scaled) / Int(scale)
        let frac = Int(scaled) % Int(scale)
        var fracText = String(frac)
        while fracText.count < digits { fracText = "0" + fracText }
        return (negative ? "-" : "") + String(whole) + (digits > 0 ? "." + fracText : "")
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
