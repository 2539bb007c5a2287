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
        // One string, appended to in place: no array of lines to join, no per-line argument arrays, numbers written
        // straight into it (this runs for every exchange). Lines after the first start with "\n".
        var out = ""
        out.reserveCapacity(1024)
        let statusText = status == 0 ? "" : String(status) + " " + reason
        let coloured = statusText.hasPrefix("2") ? style.green(statusText) : style.red(statusText)
        out += style.boldYellow(method.padding(6))
        out += " "
        out += style.boldWhite(target)
        out += " "
        out += coloured
        out += " "
        Self.appendFixed(&out, latencySeconds, 2)
        out += "s"
        if let requestContentType {
            out += "\n  - Request Headers: "
            out += "\n    - Content-Type:    "
            out += requestContentType
            if let upstreamAcceptEncoding { out += "\n    - Accept-Encoding: "; out += upstreamAcceptEncoding }
            if let clientRequestID { out += "\n    - X-Request-Id:    "; out += clientRequestID }
        }
        if let responseContentType {
            out += "\n  - Response Headers: "
            out += "\n    - Content-Type:         "
            out += responseContentType
            if let responseContentEncoding { out += "\n    - Content-Encoding:     "; out += responseContentEncoding }
        }
        if let mshRequestID {
            out += "\n    - Msh-Request-Id:       "
            out += mshRequestID
            if let serverTimingMs {
                out += "\n    - Server-Timing:        "
                Self.appendFixed(&out, serverTimingMs / 1000, 4)
                out += " s"
            }
            out += "\n    - Msh-Context-Cache-Id: "
            out += contextCacheID ?? "<no-cache>"
            if let uid, !uid.isEmpty {
                out += "\n    - Msh-Uid:              "
                out += uid
                out += "\n    - Msh-Gid:              "
                out += gid ?? ""
            }
        }
        if let completionID {
            out += "\n  - Response: "
            out += "\n    - id:                "
            out += completionID
            if let ttftSeconds, ttftSeconds > 0 {
                out += "\n    - ttft:              "
                Self.appendFixed(&out, ttftSeconds, 4)
                out += " s"
            }
            if let tpotSeconds, let otps {
                out += "\n    - tpot:              "
                Self.appendFixed(&out, tpotSeconds, 4)
                out += " s/token"
                out += "\n    - otps:              "
                Self.appendFixed(&out, otps, 4)
                out += " tokens/s"
            }
            out += "\n    - prompt_tokens:     "
            if let usage { Self.appendInt(&out, usage.promptTokens) } else { out += "unknown" }
            out += "\n    - completion_tokens: "
            if let usage { Self.appendInt(&out, usage.completionTokens) } else { out += "unknown" }
            out += "\n    - total_tokens:      "
            if let usage { Self.appendInt(&out, usage.totalTokens) } else { out += "unknown" }
            if let cached = usage?.cachedTokens, cached > 0 { out += "\n    - cached_tokens:     "; Self.appendInt(&out, cached) }
        }
        if let upstreamErrorBody {
            out += "\n  - Moonshot Error: "
            for text in upstreamErrorBody.split(separator: "\n", omittingEmptySubsequences: false).prefix(40) {
                out += "\n"
                out += style.boldYellow("    " + text)
            }
        }
        if let proxyError {
            for text in proxyError.split(separator: "\n") { out += "\n"; out += style.boldRed("  " + text) }
        }
        for warning in warnings { out += "\n"; out += style.boldYellow("  [WARNING] \(warning)") }
        if let exchangeID {
            out += "\n  New Row Inserted: last_insert_id="
            out += String(exchangeID)
        } else {
            out += "\n"
            out += style.boldRed("  Not recorded: capture is failing (see the warnings above)")
        }
        return out
    }

    /// Appends `String(value)` without building it (decimal digits, sign first).
    static func appendInt(_ out: inout String, _ value: Int) {
        if value < 0 || value >= 1_000_000_000_000_000 { out += String(value); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var v = value
            var i = buffer.count
            repeat {
                i -= 1
                buffer[i] = UInt8(truncatingIfNeeded: 0x30 + v % 10)
                v /= 10
            } while v > 0
            out += String(decoding: UnsafeRawBufferPointer(rebasing: buffer[i...]), as: UTF8.self)
        }
    }

    /// Appends `value` with exactly `digits` decimals (rounded half away from zero; what `fixed` returns).
    static func appendFixed(_ out: inout String, _ value: Double, _ digits: Int) {
        guard value.isFinite else { out += value.isNaN ? "NaN" : (value > 0 ? "+Inf" : "-Inf"); return }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e15 else { out += String(value); return }
        if value < 0 { out += "-" }
        let whole = Int(scaled) / Int(scale)
        let frac = Int(scaled) % Int(scale)
        appendInt(&out, whole)
        guard digits > 0 else { return }
        out += "."
        var width = 1
        var f = frac
        while f >= 10 { f /= 10; width += 1 }
        for _ in width..<max(width, digits) { out += "0" }
        appendInt(&out, frac)
    }

    /// `value` with exactly `digits` decimals (no Foundation formatting on the hot path).
    static func fixed(_ value: Double, _ digits: Int) -> String {
        var out = ""
        appendFixed(&out, value, digits)
        return out
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
