import PalaceLog
import PalaceWire

/// Compact JSON text assembled piece by piece into one byte buffer (the export formats' lines and entries), with
/// PalaceWire's string escaping, so the bytes equal what the same `JSONValue` would serialise to.
struct JSONText {
    var out: [UInt8] = []

    init(capacity: Int) { out.reserveCapacity(capacity) }

    /// Literal JSON text (punctuation, keys written out with their quotes).
    @inline(__always) mutating func raw(_ s: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// A string, or `null` for nil.
    mutating func string(_ s: String?) {
        if let s { JSONValue.appendString(s, to: &out) } else { raw("null") }
    }

    /// An integer, or `null` for nil.
    mutating func int<I: BinaryInteger>(_ n: I?) {
        guard let n else { raw("null"); return }
        var s = String(n)
        s.withUTF8 { out.append(contentsOf: $0) }
    }

    mutating func value(_ v: JSONValue) {
        switch v {
        case .null: raw("null")
        case .number(var text): text.withUTF8 { out.append(contentsOf: $0) }
        case .string(let s): string(s)
        default: out.append(contentsOf: v.serializedBytes())
        }
    }

    /// Headers as an object; a repeated name (same spelling) keeps its first position, values joined with ", ".
    mutating func headerObject(_ hs: [HeaderField]) {
        var merged: [(String, String)] = []
        merged.reserveCapacity(hs.count)
        for h in hs {
            if let i = merged.firstIndex(where: { $0.0 == h.name }) { merged[i].1 += ", " + h.value }
            else { merged.append((h.name, h.value)) }
        }
        out.append(UInt8(ascii: "{"))
        for (i, (k, v)) in merged.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            string(k)
            out.append(UInt8(ascii: ":"))
            string(v)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Headers as HAR's `[{"name": …, "value": …}]`.
    mutating func headerPairs(_ hs: [HeaderField]) {
        out.append(UInt8(ascii: "["))
        for (i, h) in hs.enumerated() {
            raw(i == 0 ? "{\"name\":" : ",{\"name\":")
            string(h.name)
            raw(",\"value\":")
            string(h.value)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
    }

    /// `string(redactor.text(String(decoding: utf8, as: UTF8.self)))` for valid UTF-8.
    mutating func redactedText(_ utf8: [UInt8], _ redactor: Redactor) {
        Self.appendRedactedText(utf8, redactor, to: &out)
    }

    /// `redactedText` into any buffer: masks the bytes in a copy instead of going through `String` (the default
    /// rules need no decoding). `utf8` must be valid UTF-8.
    static func appendRedactedText(_ utf8: [UInt8], _ redactor: Redactor, to out: inout [UInt8]) {
        guard redactor.enabled else { utf8.withUnsafeBufferPointer { JSONValue.appendString(utf8: $0, to: &out) }; return }
        guard !redactor.hasExtraPatterns else {
            JSONValue.appendString(redactor.text(String(decoding: utf8, as: UTF8.self)), to: &out)
            return
        }
        // Most text has nothing to mask: look first (read only), copy only when something changes.
        let clean = utf8.withUnsafeBufferPointer { !Redactor.hasKeyLike($0) }
        if clean {
            utf8.withUnsafeBufferPointer { appendEscapedText($0, to: &out) }
            return
        }
        var copy = utf8
        copy.withUnsafeMutableBufferPointer { b in
            _ = Redactor.maskKeyLike(in: b)
            appendEscapedText(UnsafeBufferPointer(b), to: &out)
        }
    }

    /// `JSONValue.appendString(utf8:to:)` — the same bytes — for long text dense with characters to escape (a
    /// raw SSE body is JSON written as text: a quote every few bytes). Escapes are found with exact per-byte
    /// word masks, counted by popcount, and the text between them is copied 8 bytes at a time, where the
    /// general escaper drops to one byte at a time in every word that holds an escape. `bytes` must be valid UTF-8.
    static func appendEscapedText(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        #if _endian(little)
        let n = bytes.count
        guard let src = bytes.baseAddress, n >= 16 else { JSONValue.appendString(utf8: bytes, to: &out); return }
        @inline(__always) func load(_ i: Int) -> UInt64 { UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self) }
        var extra = 0
        var i = 0
        while i + 8 <= n {
            let (qb, control) = specials(load(i))
            if qb | control != 0 {
                extra += qb.nonzeroBitCount
                var c = control
                while c != 0 { extra += escapeLength(src[i + c.trailingZeroBitCount >> 3]) - 1; c &= c - 1 }
            }
            i += 8
        }
        while i < n {
            let b = src[i]
            if b < 0x20 || b == 0x22 || b == 0x5C { extra += escapeLength(b) - 1 }
            i += 1
        }
        let start = out.count
        // 8 bytes of slack: the copy stores whole words, the last of which may reach past the end.
        out.append(contentsOf: repeatElement(0, count: n + extra + 2 + 8))
        out.withUnsafeMutableBufferPointer { buffer in
            guard let dst = buffer.baseAddress.map({ $0 + start }) else { return }
            dst[0] = UInt8(ascii: "\"")
            var j = 1
            i = 0
            while i + 8 <= n {
                let v = load(i)
                let (qb, control) = specials(v)
                var m = qb | control
                if m == 0 {
                    UnsafeMutableRawPointer(dst + j).storeBytes(of: v, as: UInt64.self)
                    i += 8; j += 8
                    continue
                }
                var from = 0
                while m != 0 {
                    let k = m.trailingZeroBitCount >> 3
                    UnsafeMutableRawPointer(dst + j).storeBytes(of: v >> UInt64(from * 8), as: UInt64.self)
                    j += k - from
                    j += writeEscape(src[i + k], to: dst + j)
                    from = k + 1
                    m &= m - 1
                }
                UnsafeMutableRawPointer(dst + j).storeBytes(of: v >> UInt64(from * 8), as: UInt64.self)
                j += 8 - from
                i += 8
            }
            while i < n {
                let b = src[i]
                i += 1
                if b < 0x20 || b == 0x22 || b == 0x5C { j += writeEscape(b, to: dst + j) } else { dst[j] = b; j += 1 }
            }
            dst[j] = UInt8(ascii: "\"")
        }
        out.removeLast(8)
        #else
        JSONValue.appendString(utf8: bytes, to: &out)
        #endif
    }

    /// Exact per-byte masks (the high bit of each byte that is one) of the 8 bytes of `x`: `"` or `\`, and
    /// control characters (< 0x20). No carries between bytes: each byte's sum stays below 0x100.
    @inline(__always)
    static func specials(_ x: UInt64) -> (quoteOrBackslash: UInt64, control: UInt64) {
        let low: UInt64 = 0x7F7F_7F7F_7F7F_7F7F, high: UInt64 = 0x8080_8080_8080_8080, ones: UInt64 = 0x0101_0101_0101_0101
        let q = x ^ (ones &* 0x22), b = x ^ (ones &* 0x5C)
        let quote = ~(((q & low) &+ low) | q) & high
        let backslash = ~(((b & low) &+ low) | b) & high
        let control = ~(((x & low) &+ (ones &* 0x60)) | x) & high
        return (quote | backslash, control)
    }

    /// Bytes the escaped form of `b` takes (`b` needs escaping).
    @inline(__always)
    static func escapeLength(_ b: UInt8) -> Int {
        switch b {
        case 0x22, 0x5C, 0x0A, 0x0D, 0x09, 0x08, 0x0C: 2
        default: 6
        }
    }

    /// Writes the escape of `b` (which needs one) at `dst`; returns its length.
    @inline(__always)
    static func writeEscape(_ b: UInt8, to dst: UnsafeMutablePointer<UInt8>) -> Int {
        dst[0] = UInt8(ascii: "\\")
        switch b {
        case 0x22: dst[1] = 0x22; return 2
        case 0x5C: dst[1] = 0x5C; return 2
        case 0x0A: dst[1] = UInt8(ascii: "n"); return 2
        case 0x0D: dst[1] = UInt8(ascii: "r"); return 2
        case 0x09: dst[1] = UInt8(ascii: "t"); return 2
        case 0x08: dst[1] = UInt8(ascii: "b"); return 2
        case 0x0C: dst[1] = UInt8(ascii: "f"); return 2
        default:
            let hex: StaticString = "0123456789abcdef"
            dst[1] = UInt8(ascii: "u"); dst[2] = UInt8(ascii: "0"); dst[3] = UInt8(ascii: "0")
            dst[4] = hex.utf8Start[Int(b >> 4)]; dst[5] = hex.utf8Start[Int(b & 0xF)]
            return 6
        }
    }
}

/// UTF-8 validity without building a String (`String(validating:)` allocates and copies; on a large body that
/// was most of its cost). Same answer: both follow the Unicode definition.
enum UTF8Check {
    static func isValid(_ b: UnsafeBufferPointer<UInt8>) -> Bool { (try? UTF8Span(validating: b.span)) != nil }
    static func isValid(_ a: [UInt8]) -> Bool { (try? UTF8Span(validating: a.span)) != nil }
}
