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
        var lines: [String] = []
        let statusText = status == 0 ? "" : "\(status) \(reason)"
        let coloured = statusText.hasPrefix("2") ? style.green(statusText) : style.red(statusText)
        lines.append(style.boldYellow(method.padding(6)) + " " + style.boldWhite(target) + " " + coloured
            + " " + Self.fixed(latencySeconds, 2) + "s")
        if let requestContentType {
            lines.append("  - Request Headers: ")
            lines.append("    - Content-Type:    \(requestContentType)")
            if let upstreamAcceptEncoding { lines.append("    - Accept-Encoding: \(upstreamAcceptEncoding)") }
            if let clientRequestID { lines.append("    - X-Request-Id:    \(clientRequestID)") }
        }
        if let responseContentType {
            lines.append("  - Response Headers: ")
            lines.append("    - Content-Type:         \(responseContentType)")
            if let responseContentEncoding { lines.append("    - Content-Encoding:     \(responseContentEncoding)") }
        }
        if let mshRequestID {
            lines.append("    - Msh-Request-Id:       \(mshRequestID)")
            if let serverTimingMs { lines.append("    - Server-Timing:        \(Self.fixed(serverTimingMs / 1000, 4)) s") }
            lines.append("    - Msh-Context-Cache-Id: \(contextCacheID ?? "<no-cache>")")
            if let uid, !uid.isEmpty {
                lines.append("    - Msh-Uid:              \(uid)")
                lines.append("    - Msh-Gid:              \(gid ?? "")")
            }
        }
        if let completionID {
            lines.append("  - Response: ")
            lines.append("    - id:                \(completionID)")
            if let ttftSeconds, ttftSeconds > 0 { lines.append("    - ttft:              \(Self.fixed(ttftSeconds, 4)) s") }
            if let tpotSeconds, let otps {
                lines.append("    - tpot:              \(Self.fixed(tpotSeconds, 4)) s/token")
                lines.append("    - otps:              \(Self.fixed(otps, 4)) tokens/s")
            }
            lines.append("    - prompt_tokens:     \(usage.map { "\($0.promptTokens)" } ?? "unknown")")
            lines.append("    - completion_tokens: \(usage.map { "\($0.completionTokens)" } ?? "unknown")")
            lines.append("    - total_tokens:      \(usage.map { "\($0.totalTokens)" } ?? "unknown")")
            if let cached = usage?.cachedTokens, cached > 0 { lines.append("    - cached_tokens:     \(cached)") }
        }
        if let upstreamErrorBody {
            lines.append("  - Moonshot Error: ")
            for line in upstreamErrorBody.split(separator: "\n", omittingEmptySubsequences: false).prefix(40) {
                lines.append(style.boldYellow("    " + line))
            }
        }
        if let proxyError {
            for line in proxyError.split(separator: "\n") { lines.append(style.boldRed("  " + line)) }
        }
        for warning in warnings { lines.append(style.boldYellow("  [WARNING] \(warning)")) }
        if let exchangeID {
            lines.append("  New Row Inserted: last_insert_id=\(exchangeID)")
        } else {
            lines.append(style.boldRed("  Not recorded: capture is failing (see the warnings above)"))
        }
        return lines.joined(separator: "\n")
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
