import CPalaceText
import PalaceLog
import PalaceWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Masks secrets in everything an export writes (issue 6, "Redaction").
///
/// Default rules (`Redactor.standard`): header values of credential headers (Authorization, X-Api-Key, Cookie, …)
/// are masked whole; in any other text, API-key-like tokens (`sk-…`, `Bearer …`, JWTs `eyJ….….…`) are masked;
/// JSON members whose name says they hold a secret (`api_key`, `password`, `secret`, `access_token`, …) have
/// their string values masked. Masking keeps the last 4 characters (`SecretMask`), so a person can still tell two
/// keys apart. Extra patterns (`--redact REGEX`, POSIX extended syntax) mask every match; `Redactor.none` is
/// `--no-redact`.
///
/// Invariant: redaction works on decoded strings (header values, JSON string leaves, raw text bodies), never on
/// serialized output, so it can never break the JSON or HAR structure. Not thread-safe (the compiled patterns
/// have scratch state); make one per export.
public final class Redactor: @unchecked Sendable {
    public let enabled: Bool
    private var patterns: [UnsafeMutablePointer<regex_t>] = []
    public let patternTexts: [String]

    public static var none: Redactor { Redactor(enabled: false) }
    public static var standard: Redactor { Redactor(enabled: true) }

    private init(enabled: Bool) {
        self.enabled = enabled
        self.patternTexts = []
    }

    /// Default rules plus `extraPatterns` (POSIX extended regular expressions). Throws a message naming the bad one.
    public init(extraPatterns: [String]) throws {
        enabled = true
        patternTexts = extraPatterns
        for p in extraPatterns {
            let re = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
            let rc = regcomp(re, p, REG_EXTENDED)
            if rc != 0 {
                var buf = [CChar](repeating: 0, count: 256)
                regerror(rc, re, &buf, buf.count)
                re.deallocate()
                throw IndexError.invalidArgument("--redact \"\(p)\": not a valid regular expression "
                    + "(POSIX extended syntax): \(String(cString: buf))")
            }
            patterns.append(re)
        }
    }

    /// Whether `--redact` patterns apply (they need each string decoded; the default rules work on bytes).
    var hasExtraPatterns: Bool { !patterns.isEmpty }

    deinit {
        for re in patterns { regfree(re); re.deallocate() }
    }

    static let credentialHeaders: Set<String> = [
        "authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie", "x-auth-token",
        "x-msh-api-key",
    ]

    /// JSON member names (lower-cased, `-` read as `_`) whose string values are secrets.
    static let secretNames: [[UInt8]] = ["api_key", "apikey", "password", "passwd", "secret", "client_secret",
        "access_token", "refresh_token", "id_token", "auth_token", "authorization", "private_key", "secret_key",
        "access_key"].map { Array($0.utf8) }
    static let secretSuffixes: [[UInt8]] = ["_api_key", "_secret", "_password"].map { Array($0.utf8) }

    static func isSecretName(_ name: String) -> Bool {
        var name = name
        if let ascii = name.withUTF8({ $0.allSatisfy { $0 < 0x80 } ? isSecretName(ascii: $0) : nil }) { return ascii }
        // Non-ASCII: Unicode lower-casing and String comparison (a Kelvin sign K reads as k).
        let n = name.lowercased().replacing("-", with: "_")
        if secretNames.contains(where: { n == String(decoding: $0, as: UTF8.self) }) { return true }
        return n.hasSuffix("_api_key") || n.hasSuffix("_secret") || n.hasSuffix("_password")
    }

    /// `isSecretName` for an ASCII name given as bytes (no allocation: this runs for every member of every body).
    static func isSecretName(ascii k: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = k.count
        guard n >= 6 else { return false }
        @inline(__always) func at(_ i: Int) -> UInt8 {
            let b = k[i]
            if b == 0x2D { return 0x5F }
            return b >= 0x41 && b <= 0x5A ? b | 0x20 : b
        }
        func equals(_ word: [UInt8], from: Int) -> Bool {
            for j in 0..<word.count where at(from + j) != word[j] { return false }
            return true
        }
        for suffix in secretSuffixes where n >= suffix.count && equals(suffix, from: n - suffix.count) { return true }
        for word in secretNames where word.count == n && equals(word, from: 0) { return true }
        return false
    }

    public func header(_ h: HeaderField) -> HeaderField {
        guard enabled else { return h }
        if Self.isCredentialHeader(h.name) {
            return HeaderField(name: h.name, value: Self.maskKeepingMask(h.value))
        }
        return HeaderField(name: h.name, value: text(h.value))
    }

    /// `credentialHeaders.contains(name.lowercased())`, without building the lower-cased string for ASCII names.
    static func isCredentialHeader(_ name: String) -> Bool {
        var name = name
        let ascii: Bool? = name.withUTF8 { b in
            guard b.allSatisfy({ $0 < 0x80 }) else { return nil }
            return credentialHeaderBytes.contains { word in
                word.count == b.count && zip(word, b).allSatisfy { $0 == ($1 >= 0x41 && $1 <= 0x5A ? $1 | 0x20 : $1) }
            }
        }
        return ascii ?? credentialHeaders.contains(name.lowercased())
    }

    static let credentialHeaderBytes: [[UInt8]] = credentialHeaders.map { Array($0.utf8) }

    public func headers(_ hs: [HeaderField]) -> [HeaderField] { enabled ? hs.map(header) : hs }

    /// An already masked value (`Bearer ****abcd`) stays as it is; anything else is masked.
    static func maskKeepingMask(_ v: String) -> String {
        // ASCII (every header value in practice): the same test on bytes, without splitting into Strings.
        var copy = v
        let alreadyMasked: Bool? = copy.withUTF8 { b in
            guard b.allSatisfy({ $0 < 0x80 }) else { return nil }
            var end = b.count
            while end > 0 && b[end - 1] == 0x20 { end -= 1 }
            var start = end
            while start > 0 && b[start - 1] != 0x20 { start -= 1 }
            guard end - start > 4 else { return false }
            for k in start..<(end - 4) where b[k] != 0x2A { return false }
            return true
        }
        if let alreadyMasked { return alreadyMasked ? v : SecretMask.mask(v) }
        let token = v.split(separator: " ").last.map(String.init) ?? v
        if token.count > 4 && token.dropLast(4).allSatisfy({ $0 == "*" }) { return v }
        return SecretMask.mask(v)
    }

    /// `s` with key-like tokens and every extra pattern's matches masked.
    public func text(_ s: String) -> String {
        guard enabled else { return s }
        var out = Self.maskKeyLike(s)
        for re in patterns { out = Self.apply(re, out) }
        return out
    }

    /// A JSON value with string leaves redacted and secret-named members masked.
    public func json(_ v: JSONValue) -> JSONValue {
        guard enabled else { return v }
        switch v {
        case .string(let s): return .string(text(s))
        case .array(let xs): return .array(xs.map(json))
        case .object(let o):
            var out = JSONObject()
            for (k, value) in o {
                if Self.isSecretName(k), case .string(let s) = value, !s.isEmpty {
                    out.set(k, .string(Self.maskKeepingMask(s)))
                } else {
                    out.set(k, json(value))
                }
            }
            return .object(out)
        default: return v
        }
    }

    // MARK: key-like tokens (hand-written: this runs over every string of every exported exchange)

    static func isTokenByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F
    }

    /// `isTokenByte` for every byte value.
    static let tokenTable: [Bool] = (0..<256).map { isTokenByte(UInt8($0)) }

    /// Masks `sk-` + ≥ 16 token characters, `Bearer ` + ≥ 8, and `eyJ…` JWTs (three dot-separated parts).
    static func maskKeyLike(_ s: String) -> String {
        guard s.utf8.count >= 11 else { return s }
        // Most text has nothing to mask: look first, copy only when something changes.
        var probe = s
        guard probe.withUTF8({ hasKeyLike($0) }) else { return s }
        var bytes = Array(s.utf8)
        let changed = bytes.withUnsafeMutableBufferPointer { maskKeyLike(in: $0) }
        return changed ? String(decoding: bytes, as: UTF8.self) : s
    }

    /// `maskKeyLike` in place over UTF-8 bytes (only ASCII token bytes change, to `*`, so valid UTF-8 stays valid
    /// and a JSON string without escapes stays a JSON string). Returns whether anything changed.
    /// `dryRun`: only report whether something would change (`bytes` is not written; it may be read-only memory).
    static func maskKeyLike(in bytes: UnsafeMutableBufferPointer<UInt8>, dryRun: Bool = false) -> Bool {
        let n = bytes.count
        guard n >= 11 else { return false }
        return tokenTable.withUnsafeBufferPointer { tokens in maskKeyLike(in: bytes, tokens: tokens, dryRun: dryRun) }
    }

    private static func maskKeyLike(in bytes: UnsafeMutableBufferPointer<UInt8>, tokens: UnsafeBufferPointer<Bool>,
                                     dryRun: Bool) -> Bool {
        let n = bytes.count
        var changed = false
        var i = 0
        func tokenEnd(_ from: Int, dots: Bool) -> Int {
            var j = from
            while j < n && (tokens[Int(bytes[j])] || (dots && bytes[j] == 0x2E)) { j += 1 }
            return j
        }
        func mask(_ from: Int, _ to: Int) {
            guard to - from > 4 else { return }
            var k = from
            while k < to - 4 {
                if bytes[k] != 0x2A {
                    changed = true
                    if dryRun { return }
                    bytes[k] = 0x2A
                }
                k += 1
            }
        }
        func isBearer(_ at: Int) -> Bool {   // "bearer " in any ASCII case
            let word: StaticString = "bearer "
            for j in 0..<7 {
                let b = bytes[at + j]
                if (b >= 0x41 && b <= 0x5A ? b | 0x20 : b) != word.utf8Start[j] { return false }
            }
            return true
        }
        // Word by word: a token can only start where a run of token bytes starts, so the rest of each run is
        // skipped with one table lookup per byte.
        while i < n {
            let b = bytes[i]
            guard tokens[Int(b)] else { i += 1; continue }
            if b == 0x73 && i + 3 < n && bytes[i + 1] == 0x6B && bytes[i + 2] == 0x2D {   // "sk-"
                let end = tokenEnd(i + 3, dots: false)
                if end - (i + 3) >= 16 { mask(i + 3, end); if changed && dryRun { return true }; i = end; continue }
            } else if (b == 0x42 || b == 0x62) && i + 7 < n, isBearer(i) {
                let end = tokenEnd(i + 7, dots: true)
                if end - (i + 7) >= 8 { mask(i + 7, end); if changed && dryRun { return true }; i = end; continue }
            } else if b == 0x65 && i + 3 < n && bytes[i + 1] == 0x79 && bytes[i + 2] == 0x4A {   // "eyJ"
                let end = tokenEnd(i, dots: true)
                var dots = 0
                for k in i..<end where bytes[k] == 0x2E { dots += 1 }
                if dots == 2 && end - i >= 20 { mask(i, end); if changed && dryRun { return true }; i = end; continue }
            }
            i += 1
            while i < n && tokens[Int(bytes[i])] { i += 1 }
        }
        return changed
    }

    /// Whether `maskKeyLike` would change `bytes` (its dry run), looking only where a rule can start: a key-like
    /// token begins a run of token bytes with `sk`, `ey` or `be` (any case of b/e), found 16 bytes at a time
    /// (`palace_has_key_like`, SSE2). A match always changes something (the bytes it masks are token bytes or
    /// dots, never `*`), so the first match answers.
    static func hasKeyLike(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.count >= 11 && palace_has_key_like(bytes.baseAddress, bytes.count) != 0
    }

    /// Every match of `re` in `s` replaced by `*` of the same length (at least one).
    static func apply(_ re: UnsafeMutablePointer<regex_t>, _ s: String) -> String {
        guard !s.utf8.contains(0) else { return s }
        var bytes = Array(s.utf8)
        var offset = 0
        var changed = false
        var match = regmatch_t()
        while offset <= bytes.count {
            let rc: Int32 = bytes.withUnsafeBufferPointer { buf in
                var cstr = [CChar](repeating: 0, count: buf.count - offset + 1)
                for k in offset..<buf.count { cstr[k - offset] = CChar(bitPattern: buf[k]) }
                return regexec(re, cstr, 1, &match, offset == 0 ? 0 : REG_NOTBOL)
            }
            guard rc == 0 else { break }
            let start = offset + Int(match.rm_so), end = offset + Int(match.rm_eo)
            if end > start {
                for k in start..<end { bytes[k] = 0x2A }
                changed = true
                offset = end
            } else {
                offset = end + 1
            }
        }
        return changed ? String(decoding: bytes, as: UTF8.self) : s
    }
}
