import CPalaceText
import Testing
import PalaceLog
import PalaceWire
@testable import PalaceIndex

/// The export's byte-level fast paths against the tree-based code they replace: same bytes, whatever the input.
@Suite struct ExportFastPathTests {
    /// Deterministic generator (tests must not flake).
    struct Rand {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ xs: [T]) -> T { xs[int(xs.count)] }
    }

    static let pieces = ["sk-", "sk-abcdefghijklmnop1234", "Bearer ", "bearer abcdefgh12", "BEARER x", "eyJ",
                         "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghij", ".", "-", "_", " ", "a", "Z9", "é",
                         "中文", "😀", "\"", "\\", "\n", "\t", "\u{01}", "/", "<&>", "x_api_key", "*", "1234", "key"]

    static func randomText(_ r: inout Rand) -> String {
        var s = ""
        for _ in 0..<r.int(12) { s += r.pick(pieces) }
        return s
    }

    /// The masking rules as they were written before the byte-level rewrite (String in, String out).
    static func referenceMaskKeyLike(_ s: String) -> String {
        var bytes = Array(s.utf8)
        let n = bytes.count
        guard n >= 11 else { return s }
        var changed = false
        var i = 0
        func tokenEnd(_ from: Int, dots: Bool) -> Int {
            var j = from
            while j < n && (Redactor.isTokenByte(bytes[j]) || (dots && bytes[j] == 0x2E)) { j += 1 }
            return j
        }
        func mask(_ from: Int, _ to: Int) {
            guard to - from > 4 else { return }
            for k in from..<(to - 4) where bytes[k] != 0x2A { bytes[k] = 0x2A; changed = true }
        }
        while i < n {
            let b = bytes[i]
            let boundary = i == 0 || !Redactor.isTokenByte(bytes[i - 1])
            if boundary && b == 0x73 && i + 3 < n && bytes[i + 1] == 0x6B && bytes[i + 2] == 0x2D {
                let end = tokenEnd(i + 3, dots: false)
                if end - (i + 3) >= 16 { mask(i + 3, end); i = end; continue }
            } else if boundary && (b == 0x42 || b == 0x62) && i + 7 < n,
                      String(decoding: bytes[i..<(i + 7)], as: UTF8.self).lowercased() == "bearer " {
                let end = tokenEnd(i + 7, dots: true)
                if end - (i + 7) >= 8 { mask(i + 7, end); i = end; continue }
            } else if boundary && b == 0x65 && i + 3 < n && bytes[i + 1] == 0x79 && bytes[i + 2] == 0x4A {
                let end = tokenEnd(i, dots: true)
                let dots = bytes[i..<end].filter { $0 == 0x2E }.count
                if dots == 2 && end - i >= 20 { mask(i, end); i = end; continue }
            }
            i += 1
        }
        return changed ? String(decoding: bytes, as: UTF8.self) : s
    }

    /// JSON string escaping as the serializer always wrote it, one scalar at a time.
    static func referenceEscape(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where u.value < 0x20:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    @Test func keyMaskingMatchesTheStringRules() {
        var r = Rand(state: 1)
        for _ in 0..<20_000 {
            let s = Self.randomText(&r)
            #expect(Redactor.maskKeyLike(s) == Self.referenceMaskKeyLike(s), "input \(s.debugDescription)")
            var probe = s
            let dry = probe.withUTF8 { Redactor.maskKeyLike(in: UnsafeMutableBufferPointer(mutating: $0), dryRun: true) }
            #expect(probe.withUTF8 { Redactor.hasKeyLike($0) } == dry, "input \(s.debugDescription)")
            #expect(dry == (Self.referenceMaskKeyLike(s) != s), "input \(s.debugDescription)")
        }
    }

    @Test func stringEscapingMatchesTheReference() {
        var r = Rand(state: 2)
        for _ in 0..<5_000 {
            var s = Self.randomText(&r)
            if r.int(4) == 0 { s = String(repeating: s, count: 1 + r.int(20)) }   // long runs: the 16-byte path
            var out: [UInt8] = []
            JSONValue.appendString(s, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == Self.referenceEscape(s))
            #expect(out == JSONValue.string(s).serializedBytes())
        }
    }

    /// The word-at-a-time text escaper (raw SSE bodies) and the text redaction around it give the bytes of the
    /// general escaper and of the String rules, at every length and alignment, with escapes of every kind.
    @Test func textEscaperMatchesTheGeneralOne() throws {
        var r = Rand(state: 4)
        let control = (0..<32).map { String(UnicodeScalar(UInt8($0))) }
        let regex = try Redactor(extraPatterns: ["[0-9]{4}"])
        for round in 0..<6_000 {
            var s = ""
            for _ in 0..<r.int(24) { s += r.int(5) == 0 ? r.pick(control) : r.pick(Self.pieces) }
            if round % 3 == 0 { s = String(repeating: s, count: 1 + r.int(40)) }
            if round % 7 == 0 { s = "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\"" + s + "\"}}]}\n\n" }
            let bytes = Array(s.utf8)
            var fast: [UInt8] = [7], general: [UInt8] = [7]
            bytes.withUnsafeBufferPointer { JSONText.appendEscapedText($0, to: &fast) }
            bytes.withUnsafeBufferPointer { JSONValue.appendString(utf8: $0, to: &general) }
            #expect(fast == general, "input \(s.debugDescription)")
            for red in [Redactor.standard, Redactor.none, regex] {
                var out: [UInt8] = []
                JSONText.appendRedactedText(bytes, red, to: &out)
                #expect(out == JSONValue.string(red.text(s)).serializedBytes(), "input \(s.debugDescription)")
            }
        }
    }

    /// The fused pass (UTF-8 check, key test and escaping in one go: raw text bodies) gives what the separate
    /// steps give, or says "not UTF-8" exactly when String does, wherever the bad byte or the key sits (the SSE2
    /// blocks, their boundaries, the scalar tail).
    @Test func fusedTextPassMatchesTheSeparateSteps() throws {
        var r = Rand(state: 6)
        let bad: [[UInt8]] = [[0xC3], [0x80], [0xFF], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80],
                              [0xE0, 0x80, 0x80], [0xE4, 0xB8]]
        let regex = try Redactor(extraPatterns: ["[0-9]{4}"])
        for round in 0..<6_000 {
            var s = Self.randomText(&r)
            if round % 2 == 0 { s = String(repeating: s, count: 1 + r.int(12)) }
            var bytes = Array(s.utf8)
            if round % 3 == 0 { bytes.insert(contentsOf: r.pick(bad), at: r.int(bytes.count + 1)) }
            let valid = String(validating: bytes, as: UTF8.self) != nil
            for red in [Redactor.standard, Redactor.none, regex] {
                var out: [UInt8] = [7]
                let ok = JSONText.appendTextIfValid(bytes, red, to: &out)
                #expect(ok == valid, "input \(bytes)")
                if valid {
                    #expect(out == [7] + JSONValue.string(red.text(s)).serializedBytes(), "input \(s.debugDescription)")
                } else {
                    #expect(out == [7])
                }
            }
        }
    }

    /// Every escape kernel (portable, SSSE3, AVX-512: those this CPU runs) gives the same status and bytes for the
    /// same input — long SSE-like bodies, every control character, invalid UTF-8 and key-like tokens anywhere (the
    /// 32-byte blocks, their halves, the 16-byte loop, the scalar tail) — and the general escaper's bytes; and
    /// `JSONText.escape` grows its buffer right when the first room guess is too small.
    @Test func escapeKernelsAgree() throws {
        var r = Rand(state: 8)
        let control = (0..<32).map { [UInt8($0)] }
        let bad: [[UInt8]] = [[0xC3], [0x80], [0xFF], [0xED, 0xA0, 0x80], [0xE0, 0x80, 0x80], [0xE4, 0xB8]]
        let event = Array("data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\"对话\"}}]}\n\n".utf8)
        let kernels = Array(0...JSONText.escapeKernel)
        var compared = 0
        for round in 0..<4_000 {
            var bytes: [UInt8] = []
            let target = round % 5 == 0 ? r.int(3000) : r.int(200)
            while bytes.count < target {
                switch r.int(10) {
                case 0: bytes += r.pick(control)
                case 1, 2: bytes += event
                case 3 where round % 4 == 0: bytes += r.pick(bad)
                default: bytes += Array(r.pick(Self.pieces).utf8)
                }
            }
            for flags: Int32 in [0, PALACE_ESCAPE_CHECK_UTF8, PALACE_ESCAPE_CHECK_KEYS, PALACE_ESCAPE_CHECK_UTF8 | PALACE_ESCAPE_CHECK_KEYS] {
                let results = kernels.map { JSONText.escape(kernel: $0, bytes, flags: flags) }
                for (k, res) in zip(kernels, results) {
                    #expect(res.status == results[0].status && res.bytes == results[0].bytes,
                            "kernel \(k) vs 0, flags \(flags), input \(bytes)")
                }
                compared += 1
                if flags == 0 {
                    var general: [UInt8] = []
                    bytes.withUnsafeBufferPointer { JSONValue.appendString(utf8: $0, to: &general) }
                    if String(validating: bytes, as: UTF8.self) != nil {
                        #expect(general == [0x22] + results[0].bytes + [0x22], "input \(bytes)")
                    }
                }
            }
        }
        #expect(compared == 16_000)
        // Control characters only: six bytes each, beyond the first room guess (the retry with the worst case).
        for n in [1, 40, 63, 64, 65, 1000, 70_000] {
            let text = [UInt8](repeating: 0x01, count: n)
            var out: [UInt8] = [7]
            let status = text.withUnsafeBufferPointer { JSONText.escape($0, flags: 0, to: &out) }
            #expect(status == PALACE_ESCAPE_OK)
            #expect(out == [7, 0x22] + Array(String(repeating: "\\u0001", count: n).utf8) + [0x22])
        }
    }

    /// The header object written from the fields' bytes equals the one written from `Redactor.headers`' copies:
    /// credentials, key-like values, repeated names (merged), non-ASCII, every redactor.
    @Test func redactedHeaderObjectMatchesTheGeneralPath() throws {
        var r = Rand(state: 9)
        let names = ["Authorization", "authorization", "X-Api-Key", "Content-Type", "Accept", "x-moonpalace-note",
                     "Set-Cookie", "Cookie", "Proxy-Authorization", "Ünïcode", "Msh-Request-Id"]
        let regex = try Redactor(extraPatterns: ["[0-9]{4}"])
        for _ in 0..<3_000 {
            var hs: [HeaderField] = []
            for _ in 0..<r.int(9) { hs.append(HeaderField(name: r.pick(names), value: Self.randomText(&r))) }
            for red in [Redactor.standard, Redactor.none, regex] {
                var fast = JSONText(capacity: 0), general = JSONText(capacity: 0)
                fast.redactedHeaderObject(hs, red)
                general.headerObject(red.headers(hs))
                #expect(fast.out == general.out, "headers \(hs)")
            }
        }
    }

    /// The SSSE3 lookup validator (whole documents, 16 bytes per step) and the byte-by-byte one agree on long
    /// inputs with every kind of sequence and error anywhere: across block boundaries, in the padded tail, a lead
    /// byte cut off at the very end.
    @Test func utf8LookupKernelAgreesWithScalar() {
        var r = Rand(state: 10)
        let pieces: [[UInt8]] = [[0x41], [0x7F], [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xE4, 0xB8, 0xAD],
                                 [0xED, 0x9F, 0xBF], [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
                                 [0xC3], [0x80], [0xFF], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xC1, 0xBF], [0xF4, 0x90, 0x80, 0x80],
                                 [0xE0, 0x80, 0x80], [0xF0, 0x80, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xE4, 0xB8], [0xF0, 0x90, 0x80]]
        var invalid = 0
        for round in 0..<20_000 {
            var b: [UInt8] = []
            let good = round % 2 == 0
            for _ in 0..<r.int(60) {
                let p = r.int(good ? 10 : pieces.count)
                b += r.int(3) == 0 ? pieces[p] : Array(repeating: 0x61, count: r.int(20))
            }
            let lookup = b.withUnsafeBufferPointer { palace_utf8_valid($0.baseAddress, $0.count) != 0 }
            let scalar = b.withUnsafeBufferPointer { palace_utf8_valid_scalar($0.baseAddress, $0.count) != 0 }
            #expect(lookup == scalar, "\(b)")
            #expect(lookup == (String(validating: b, as: UTF8.self) != nil), "\(b)")
            if !scalar { invalid += 1 }
        }
        #expect(invalid > 5_000 && invalid < 15_000)
    }

    @Test func utf8CheckAgreesWithString() {
        var r = Rand(state: 5)
        let pieces: [[UInt8]] = [[0x41], [0xC3, 0xA9], [0xE4, 0xB8, 0xAD], [0xF0, 0x9F, 0x98, 0x80], [0xC3], [0x80], [0xFF],
                                 [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0xE0, 0x80, 0x80], [0x00]]
        for _ in 0..<20_000 {
            var b: [UInt8] = []
            for _ in 0..<r.int(12) { b += r.int(3) == 0 ? r.pick(pieces) : [0x61] }
            #expect(UTF8Check.isValid(b) == (String(validating: b, as: UTF8.self) != nil), "\(b)")
        }
    }

    @Test func maskKeepingMaskMatchesTheStringRule() {
        func reference(_ v: String) -> String {
            let token = v.split(separator: " ").last.map(String.init) ?? v
            if token.count > 4 && token.dropLast(4).allSatisfy({ $0 == "*" }) { return v }
            return SecretMask.mask(v)
        }
        for v in ["Bearer ****abcd", "Bearer sk-abcdefghijklmnop", "", "     ", "****", "*****", "*****abcd", "Bearer  ****abcd  ",
                  "a b ****wxyz", "Bearer ********abc", "Bearer ****ab d", "tökén ****abcd", "****é", "Basic dXNlcjpwYXNz",
                  "x ****", " *****1234", "key=****abcd"] {
            #expect(Redactor.maskKeepingMask(v) == reference(v), "\(v.debugDescription)")
        }
    }

    @Test func secretNamesMatchTheStringRules() {
        for name in ["api_key", "API-KEY", "apikey", "Password", "x_secret", "my-api-key", "client_secret", "secret_key",
                     "access_token", "id_token", "tokens", "secrets", "max_tokens", "model", "passwd", "user_password",
                     "Authorization", "privatekey", "private_key", "\u{212A}ey", "api_\u{212A}ey", "café_secret", ""] {
            let n = name.lowercased().replacing("-", with: "_")
            let expected = ["api_key", "apikey", "password", "passwd", "secret", "client_secret", "access_token",
                            "refresh_token", "id_token", "auth_token", "authorization", "private_key", "secret_key",
                            "access_key"].contains(n) || n.hasSuffix("_api_key") || n.hasSuffix("_secret")
                || n.hasSuffix("_password")
            #expect(Redactor.isSecretName(name) == expected, "\(name)")
        }
    }

    /// Random JSON documents (with whitespace, escapes, secrets, repeated keys, unicode) copied by `RedactedJSON`
    /// give exactly the bytes of parse → `Redactor.json` → serialise, and the fast path really runs.
    @Test func redactedCopyEqualsParseRedactSerialise() throws {
        var r = Rand(state: 3)
        let keys = ["model", "api_key", "Password", "content", "x-secret", "a", "role", "k\\u0065y", "é", "messages"]
        func ws() -> String { r.pick(["", "", " ", "\n  ", "\t"]) }
        func value(_ depth: Int) -> String {
            switch r.int(depth > 3 ? 4 : 7) {
            case 0: return "\"" + Self.randomText(&r).replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
                .replacing("\n", with: "\\n").replacing("\t", with: "\\t").replacing("\u{01}", with: "\\u0001") + "\""
            case 1: return r.pick(["0", "-12", "3.25", "1e9", "2.5E-3", "123456789012345678901234567890"])
            case 2: return r.pick(["true", "false", "null"])
            case 3: return "\"" + r.pick(["sk-abcdefghijklmnopqrstu", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIi.abcdefghij",
                                          "", "plain", "\\u00e9t\\u00e9", "\\ud83d\\ude00", "a\\/b", "x\\u000ay",
                                          "x\\u001Ay", "x\\u001fy\\u0000", "a\\nsk-abcdefghijklmnopqrstu", "\\tBearer abcdefghij12",
                                          "q\\\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIi.abcdefghij\\\"", "\\x", "\\u00"]) + "\""
            case 4, 5:
                var members: [String] = []
                for _ in 0..<r.int(5) { members.append(ws() + "\"" + r.pick(keys) + "\"" + ws() + ":" + ws() + value(depth + 1) + ws()) }
                return "{" + members.joined(separator: ",") + ws() + "}"
            default:
                var items: [String] = []
                for _ in 0..<r.int(4) { items.append(ws() + value(depth + 1) + ws()) }
                return "[" + items.joined(separator: ",") + "]"
            }
        }
        let redactors = [Redactor.standard, Redactor.none, try Redactor(extraPatterns: ["plain|[0-9]{3}"])]
        var fast = 0
        for i in 0..<6_000 {
            let doc = ws() + (i % 2 == 0 ? "{\"m\":" + value(1) + "}" : "[" + value(1) + "]") + ws()
            let bytes = Array(doc.utf8)
            for red in redactors {
                var out: [UInt8] = [1, 2]
                let ok = bytes.withUnsafeBufferPointer { RedactedJSON.append($0, redactor: red, to: &out) }
                let slow = CaseExport.body(bytes, red).serializedBytes()
                if ok { fast += 1; #expect(Array(out.dropFirst(2)) == slow, "\(doc)") } else { #expect(out == [1, 2]) }
                var viaBody: [UInt8] = []
                CaseExport.appendBody(bytes, red, to: &viaBody)
                #expect(viaBody == slow, "\(doc)")
            }
        }
        #expect(fast > 12_000)   // most documents take the fast path
        // Not JSON, broken JSON, bad UTF-8, too deep: same as the slow path (a redacted string).
        let odd: [[UInt8]] = [Array("data: {\"a\":1}\n\n".utf8), Array("{\"a\":".utf8), [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D],
                              Array((String(repeating: "[", count: 600) + String(repeating: "]", count: 600)).utf8),
                              Array("{\"a\":1} x".utf8), Array("  ".utf8), [], [0xC3, 0x28, 0x41]]
        for bytes in odd {
            for red in redactors {
                var out: [UInt8] = []
                CaseExport.appendBody(bytes, red, to: &out)
                #expect(out == CaseExport.body(bytes, red).serializedBytes())
            }
        }
    }

    /// JSONL lines and HAR entries written field by field equal the `JSONObject` the formats used to build.
    @Test func linesAndEntriesKeepTheirBytes() async throws {
        let f = try LogFixture()
        var ids: [UInt64] = []
        ids.append(try await f.chat(user: "key sk-abcdefghijklmnopqrstu9876 \"quoted\"\n", extraRequest: #","api_key":"abcdef123456""#))
        ids.append(try await f.chat(user: "stream é 中文", stream: true))
        ids.append(try await f.chat(status: 500, failure: ExchangeFailure(step: "read_response_body", message: "reset by peer")))
        ids.append(try await f.chat(user: "unfinished", end: false))
        try await f.closeWriter()
        let idx = try f.index()
        try idx.catchUp()
        for id in ids {
            let s = try #require(try idx.summary(id: Int64(id))), ex = try #require(try idx.exchange(id: Int64(id)))
            for red in [Redactor.standard, Redactor.none] {
                let line = JSONLFormat.line(s, ex, redactor: red)
                #expect(line.last == 0x0A)
                let v = try JSONValue.parse(line)
                // Re-serialising the parsed line gives the same bytes: compact, members in order, same escapes.
                #expect(v.serializedBytes() + [0x0A] == line)
                #expect(v["request"]?["body"] == CaseExport.body(ex.requestBody, red))
                #expect(v["response"]?["body"] == CaseExport.body(ex.responseBody, red))
                let entry = HARFormat.entry(s, ex, redactor: red)
                #expect(try JSONValue.parse(entry).serializedBytes() == entry)
            }
            let masked = String(decoding: JSONLFormat.line(s, ex, redactor: .standard), as: UTF8.self)
            #expect(!masked.contains("abcdefghijklmnopqrstu9876") && !masked.contains("abcdef123456"))
        }
    }
}
