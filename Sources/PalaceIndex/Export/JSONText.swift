import CPalaceText
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
        utf8.withUnsafeBufferPointer { b in
            guard redactor.enabled else { _ = escape(b, flags: 0, to: &out); return }
            guard !redactor.hasExtraPatterns else {
                JSONValue.appendString(redactor.text(String(decoding: b, as: UTF8.self)), to: &out)
                return
            }
            // Most text has nothing to mask: one pass looks and escapes; a copy is masked only when needed.
            if escape(b, flags: PALACE_ESCAPE_CHECK_KEYS, to: &out) == PALACE_ESCAPE_KEY_LIKE { appendMasked(b, to: &out) }
        }
    }

    /// `appendRedactedText` when `bytes` is valid UTF-8 (checked in the same pass); false, with `out` unchanged,
    /// when it is not.
    static func appendTextIfValid(_ bytes: [UInt8], _ redactor: Redactor, to out: inout [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { appendTextIfValid($0, redactor, to: &out) }
    }

    static func appendTextIfValid(_ b: UnsafeBufferPointer<UInt8>, _ redactor: Redactor, to out: inout [UInt8]) -> Bool {
        guard redactor.enabled, !redactor.hasExtraPatterns else {
            if redactor.enabled {
                guard UTF8Check.isValid(b) else { return false }
                JSONValue.appendString(redactor.text(String(decoding: b, as: UTF8.self)), to: &out)
                return true
            }
            return escape(b, flags: PALACE_ESCAPE_CHECK_UTF8, to: &out) == PALACE_ESCAPE_OK
        }
        switch escape(b, flags: PALACE_ESCAPE_CHECK_UTF8 | PALACE_ESCAPE_CHECK_KEYS, to: &out) {
        case PALACE_ESCAPE_OK: return true
        case PALACE_ESCAPE_KEY_LIKE:
            // The pass stopped at the key: the rest is still to be checked.
            guard UTF8Check.isValid(b) else { return false }
            appendMasked(b, to: &out)
            return true
        default: return false
        }
    }

    /// The escaped string of `b` with key-like tokens masked (valid UTF-8 stays valid: only ASCII bytes change).
    static func appendMasked(_ b: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var copy = Array(b)
        copy.withUnsafeMutableBufferPointer { m in
            _ = Redactor.maskKeyLike(in: m)
            _ = escape(UnsafeBufferPointer(m), flags: 0, to: &out)
        }
    }

    /// `JSONValue.appendString(utf8:to:)` — the same bytes — for valid UTF-8, with the SSE2 kernel (a raw SSE
    /// body is JSON written as text: a quote every few bytes).
    static func appendEscapedText(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        _ = escape(bytes, flags: 0, to: &out)
    }

    /// Zeros to grow a buffer by before the kernel writes into it (copied with memcpy: appending a
    /// `repeatElement` went byte by byte, 4% of a JSONL export).
    static let zeros = [UInt8](repeating: 0, count: 1 << 16)

    @inline(__always) static func appendZeros(_ count: Int, to out: inout [UInt8]) {
        var left = count
        zeros.withUnsafeBufferPointer { z in
            while left > 0 {
                let k = min(left, z.count)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: z[0..<k]))
                left -= k
            }
        }
    }

    /// Appends `src` as a JSON string (quotes included) with `palace_json_escape` and `flags`; returns its status.
    /// `out` is unchanged unless the status is `PALACE_ESCAPE_OK`.
    static func escape(_ src: UnsafeBufferPointer<UInt8>, flags: Int32, to out: inout [UInt8]) -> Int32 {
        let start = out.count
        // Room for typical text (a quote every few bytes); the kernel says when it needs the worst case.
        var room = src.count + src.count >> 2 + 256
        while true {
            appendZeros(room + 2, to: &out)
            var status: Int32 = 0
            let written = out.withUnsafeMutableBufferPointer { b -> Int in
                guard let base = b.baseAddress else { return 0 }
                let dst = base + start
                dst[0] = UInt8(ascii: "\"")
                let n = palace_json_escape(src.baseAddress, src.count, dst + 1, room, flags, &status)
                if status == PALACE_ESCAPE_OK { dst[n + 1] = UInt8(ascii: "\"") }
                return n
            }
            if status == PALACE_ESCAPE_OK {
                out.removeLast(room - written)
                return status
            }
            out.removeSubrange(start...)
            let worst = src.count * 6 + 256
            guard status == PALACE_ESCAPE_NO_ROOM, room < worst else { return status }
            room = worst
        }
    }
}

/// UTF-8 validity without building a String (`String(validating:)` allocates and copies; on a large body that
/// was most of its cost), 16 bytes at a time over ASCII (`palace_utf8_valid`). Same answer: both follow the Unicode
/// definition.
enum UTF8Check {
    static func isValid(_ b: UnsafeBufferPointer<UInt8>) -> Bool { palace_utf8_valid(b.baseAddress, b.count) != 0 }
    static func isValid(_ a: [UInt8]) -> Bool { a.withUnsafeBufferPointer { isValid($0) } }
}
