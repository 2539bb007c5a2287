import PalaceLog
import Testing
@testable import PalaceProxy

@Suite struct LogBlockTests {
    @Test func fullBlockMatchesMoonPalaceShapeAndEndsWithTheRowID() {
        var b = LogBlock()
        b.method = "POST"; b.target = "/v1/chat/completions?x=1"; b.status = 200; b.reason = "OK"; b.latencySeconds = 3.416
        b.requestContentType = "application/json"; b.upstreamAcceptEncoding = "gzip"; b.clientRequestID = "abc"
        b.responseContentType = "text/event-stream"; b.mshRequestID = "msh-1"; b.serverTimingMs = 1033
        b.uid = "u1"; b.gid = "enterprise-tier-5"; b.completionID = "chatcmpl-1"; b.ttftSeconds = 0.12345
        b.tpotSeconds = 0.02; b.otps = 50
        b.usage = Usage(promptTokens: 10, completionTokens: 20, totalTokens: 30, cachedTokens: 4)
        b.warnings = ["it seems that your max_tokens value is too small, please set a larger value"]
        b.exchangeID = 42
        let text = b.render(style: TerminalStyle(enabled: false))
        #expect(text == """
            POST   /v1/chat/completions?x=1 200 OK 3.42s
              - Request Headers: 
                - Content-Type:    application/json
                - Accept-Encoding: gzip
                - X-Request-Id:    abc
              - Response Headers: 
                - Content-Type:         text/event-stream
                - Msh-Request-Id:       msh-1
                - Server-Timing:        1.0330 s
                - Msh-Context-Cache-Id: <no-cache>
                - Msh-Uid:              u1
                - Msh-Gid:              enterprise-tier-5
              - Response: 
                - id:                chatcmpl-1
                - ttft:              0.1235 s
                - tpot:              0.0200 s/token
                - otps:              50.0000 tokens/s
                - prompt_tokens:     10
                - completion_tokens: 20
                - total_tokens:      30
                - cached_tokens:     4
              [WARNING] it seems that your max_tokens value is too small, please set a larger value
              New Row Inserted: last_insert_id=42
            """)
    }

    @Test func failedCaptureSaysSoAndProxyErrorsAreShown() {
        var b = LogBlock()
        b.method = "GET"; b.target = "/v1/models"; b.latencySeconds = 0.001
        b.proxyError = "connect: Couldn't connect to server"
        b.warnings = ["capture failing: begin: disk full (2 failures so far)"]
        let text = b.render(style: TerminalStyle(enabled: false))
        #expect(text.contains("  connect: Couldn't connect to server"))
        #expect(text.hasSuffix("Not recorded: capture is failing (see the warnings above)"))
        #expect(!text.contains("New Row Inserted"))
    }

    @Test func colourOnlyWhenEnabled() {
        var b = LogBlock()
        b.method = "GET"; b.target = "/"; b.status = 404; b.reason = "Not Found"; b.exchangeID = 1
        #expect(!b.render(style: TerminalStyle(enabled: false)).contains("\u{1B}["))
        #expect(b.render(style: TerminalStyle(enabled: true)).contains("\u{1B}[31m404 Not Found"))
    }

    @Test func fixedDecimals() {
        #expect(LogBlock.fixed(3.14159, 2) == "3.14")
        #expect(LogBlock.fixed(0.00005, 4) == "0.0001")
        #expect(LogBlock.fixed(12, 4) == "12.0000")
        #expect(LogBlock.fixed(-1.5, 1) == "-1.5")
        #expect(LogBlock.fixed(.infinity, 2) == "+Inf")
    }

    /// The former String-building `fixed`, kept as the reference for the in-place one.
    static func referenceFixed(_ value: Double, _ digits: Int) -> String {
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

    /// The render appends numbers in place: exactly the text the former `fixed` and `String(_:)` make.
    @Test func inPlaceNumbersMatchTheirStrings() {
        var values: [Double] = [0, -0.0, 0.5, 0.05, 0.00049, 0.00051, 1, 9.99995, 12, 123.456789, -1.5, -0.00001, 1e15,
                                8.9e15, 1e20, -3e17, .nan, .infinity, -.infinity, 0.1 + 0.2]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 { values.append(Double.random(in: -1e6...1e6, using: &generator) / Double(Int.random(in: 1...100_000, using: &generator))) }
        for v in values {
            for digits in 0...4 {
                var out = "x"
                LogBlock.appendFixed(&out, v, digits)
                #expect(out == "x" + Self.referenceFixed(v, digits), "\(v) \(digits)")
            }
        }
        for n in [0, 1, 9, 10, 99, 100, 12345, -1, -987, Int.max, Int.min, 999_999_999_999_999_999, 1_000_000_000_000_000_000] {
            var out = ""
            LogBlock.appendInt(&out, n)
            #expect(out == String(n))
        }
    }
}
