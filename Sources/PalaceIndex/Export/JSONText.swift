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

    /// `headerObject(redactor.headers(hs))` without the intermediate array and Strings: each value is masked
    /// and escaped from its bytes (`appendRedactedText`). Repeated names and redactors with `--redact` patterns
    /// take the general path.
    mutating func redactedHeaderObject(_ hs: [HeaderField], _ redactor: Redactor) {
        guard redactor.enabled, !redactor.hasExtraPatterns, !Self.hasRepeatedName(hs) else {
            headerObject(redactor.headers(hs))
            return
        }
        out.append(UInt8(ascii: "{"))
        for (i, h) in hs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            string(h.name)
            out.append(UInt8(ascii: ":"))
            if Redactor.isCredentialHeader(h.name) {
                string(Redactor.maskKeepingMask(h.value))
            } else {
                var v = h.value
                v.withUTF8 { Self.appendRedactedText($0, redactor, to: &out) }
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Whether two headers have the same name (String equality, as `headerObject` merges them).
    static func hasRepeatedName(_ hs: [HeaderField]) -> Bool {
        guard hs.count > 1 else { return false }
        for i in 1..<hs.count {
            let a = hs[i].name
            for j in 0..<i where hs[j].name == a { return true }
        }
        return false
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
        utf8.withUnsafeBufferPointer { appendRedactedText($0, redactor, to: &out) }
    }

    static func appendRedactedText(_ b: UnsafeBufferPointer<UInt8>, _ redactor: Redactor, to out: inout [UInt8]) {
        guard redactor.enabled else { _ = escape(b, flags: 0, to: &out); return }
        guard !redactor.hasExtraPatterns else {
            JSONValue.appendString(redactor.text(String(decoding: b, as: UTF8.self)), to: &out)
            return
        }
        // Most text has nothing to mask: one pass looks and escapes; a copy is masked only when needed.
        if escape(b, flags: PALACE_ESCAPE_CHECK_KEYS, to: &out) == PALACE_ESCAPE_KEY_LIKE { appendMasked(b, to: &out) }
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

    /// Appends `src` as a JSON string (quotes included) with `palace_json_escape` and `flags`; returns its status.
    /// `out` is unchanged unless the status is `PALACE_ESCAPE_OK`. The kernel writes straight into `out`'s spare
    /// capacity (`UninitializedAppend`): no zero-filling pass before it (that was a memset-sized copy of every
    /// body, 3% of a JSONL export).
    static func escape(_ src: UnsafeBufferPointer<UInt8>, flags: Int32, to out: inout [UInt8]) -> Int32 {
        // Room for typical text (a quote every few bytes); the kernel says when it needs the worst case.
        var room = src.count + src.count >> 2 + 256
        while true {
            var status: Int32 = 0
            UninitializedAppend.append(to: &out, room: room + 2) { dst in
                dst[0] = UInt8(ascii: "\"")
                let n = palace_json_escape(src.baseAddress, src.count, dst.baseAddress! + 1, room, flags, &status)
                guard status == PALACE_ESCAPE_OK else { return 0 }
                dst[n + 1] = UInt8(ascii: "\"")
                return n + 2
            }
            if status == PALACE_ESCAPE_OK { return status }
            let worst = palace_escape_capacity(src.count)
            guard status == PALACE_ESCAPE_NO_ROOM, room < worst else { return status }
            room = worst
        }
    }
}

extension JSONText {
    /// One kernel's escape of `src` with the worst-case room (tests compare the kernels: `palace_json_escape_kernel`):
    /// its status and, for `PALACE_ESCAPE_OK`, the bytes (no quotes).
    static func escape(kernel: Int32, _ src: [UInt8], flags: Int32) -> (status: Int32, bytes: [UInt8]) {
        var status: Int32 = 0
        let room = palace_escape_capacity(src.count)
        let bytes = [UInt8](unsafeUninitializedCapacity: room) { dst, count in
            count = src.withUnsafeBufferPointer {
                palace_json_escape_using(kernel, $0.baseAddress, $0.count, dst.baseAddress, room, flags, &status)
            }
            if status != PALACE_ESCAPE_OK { count = 0 }
        }
        return (status, bytes)
    }

    /// The kernel `palace_json_escape` uses on this CPU.
    static var escapeKernel: Int32 { palace_json_escape_kernel() }
}

/// Appends to a byte array by writing into its spare capacity, without initialising that room first (the
/// standard library has no public "append uninitialised"; `append(contentsOf:)` of a sequence hands the spare
/// capacity to the sequence's `_copyContents`, which is what this is).
///
/// Invariant: `fill` gets at least `room` bytes and returns how many of them it initialised, from the start; only
/// those become elements (`out` grows geometrically like any append).
enum UninitializedAppend {
    struct Fill: Sequence {
        typealias Element = UInt8
        let fill: (UnsafeMutableBufferPointer<UInt8>) -> Int
        var underestimatedCount: Int { 0 }
        func makeIterator() -> EmptyCollection<UInt8>.Iterator { EmptyCollection<UInt8>().makeIterator() }
        func _copyContents(initializing ptr: UnsafeMutableBufferPointer<UInt8>)
            -> (EmptyCollection<UInt8>.Iterator, UnsafeMutableBufferPointer<UInt8>.Index) {
            (EmptyCollection<UInt8>().makeIterator(), fill(ptr))
        }
    }

    @inline(__always)
    static func append(to out: inout [UInt8], room: Int, _ fill: (UnsafeMutableBufferPointer<UInt8>) -> Int) {
        if out.capacity - out.count < room {
            out.reserveCapacity(max(out.count + room, 2 * out.capacity))
        }
        var filled = false
        withoutActuallyEscaping(fill) { f in
            out.append(contentsOf: Fill(fill: { buf in
                // reserveCapacity left at least `room` (a shared buffer would be copied with less: see below).
                guard buf.count >= room else { return 0 }
                filled = true
                return f(buf)
            }))
        }
        if !filled {
            out += [UInt8](unsafeUninitializedCapacity: room) { b, count in count = fill(b) }
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
