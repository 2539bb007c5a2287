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

    deinit {
        for re in patterns { regfree(re); re.deallocate() }
    }

    static let credentialHeaders: Set<String> = [
        "authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie", "x-auth-token",
        "x-msh-api-key",
    ]

    /// JSON member names (lower-cased, `-` read as `_`) whose string values are secrets.
    static func isSecretName(_ name: String) -> Bool {
        let n = name.lowercased().replacing("-", with: "_")
        if ["api_key", "apikey", "password", "passwd", "secret", "client_secret", "access_token", "refresh_token",
            "id_token", "auth_token", "authorization", "private_key", "secret_key", "access_key"].contains(n) { return true }
        return n.hasSuffix("_api_key") || n.hasSuffix("_secret") || n.hasSuffix("_password")
    }

    public func header(_ h: HeaderField) -> HeaderField {
        guard enabled else { return h }
        if Self.credentialHeaders.contains(h.name.lowercased()) {
            return HeaderField(name: h.name, value: Self.maskKeepingMask(h.value))
        }
        return HeaderField(name: h.name, value: text(h.value))
    }

    public func headers(_ hs: [HeaderField]) -> [HeaderField] { enabled ? hs.map(header) : hs }

    /// An already masked value (`Bearer ****abcd`) stays as it is; anything else is masked.
    static func maskKeepingMask(_ v: String) -> String {
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

    /// Masks `sk-` + ≥ 16 token characters, `Bearer ` + ≥ 8, and `eyJ…` JWTs (three dot-separated parts).
    static func maskKeyLike(_ s: String) -> String {
        var bytes = Array(s.utf8)
        let n = bytes.count
        guard n >= 11 else { return s }
        var changed = false
        var i = 0
        func tokenEnd(_ from: Int, dots: Bool) -> Int {
            var j = from
            while j < n && (isTokenByte(bytes[j]) || (dots && bytes[j] == 0x2E)) { j += 1 }
            return j
        }
        func mask(_ from: Int, _ to: Int) {
            guard to - from > 4 else { return }
            var k = from
            while k < to - 4 {
                if bytes[k] != 0x2A { bytes[k] = 0x2A; changed = true }
                k += 1
            }
        }
        while i < n {
            let b = bytes[i]
            let boundary = i == 0 || !isTokenByte(bytes[i - 1])
            if boundary && b == 0x73 && i + 3 < n && bytes[i + 1] == 0x6B && bytes[i + 2] == 0x2D {   // "sk-"
                let end = tokenEnd(i + 3, dots: false)
                if end - (i + 3) >= 16 { mask(i + 3, end); i = end; continue }
            } else if boundary && (b == 0x42 || b == 0x62) && i + 7 < n,
                      String(decoding: bytes[i..<(i + 7)], as: UTF8.self).lowercased() == "bearer " {
                let end = tokenEnd(i + 7, dots: true)
                if end - (i + 7) >= 8 { mask(i + 7, end); i = end; continue }
            } else if boundary && b == 0x65 && i + 3 < n && bytes[i + 1] == 0x79 && bytes[i + 2] == 0x4A {   // "eyJ"
                let end = tokenEnd(i, dots: true)
                let dots = bytes[i..<end].filter { $0 == 0x2E }.count
                if dots == 2 && end - i >= 20 { mask(i, end); i = end; continue }
            }
            i += 1
        }
        return changed ? String(decoding: bytes, as: UTF8.self) : s
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
