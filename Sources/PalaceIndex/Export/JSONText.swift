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
        var copy = utf8
        copy.withUnsafeMutableBufferPointer { b in
            _ = Redactor.maskKeyLike(in: b)
            JSONValue.appendString(utf8: UnsafeBufferPointer(b), to: &out)
        }
    }
}
