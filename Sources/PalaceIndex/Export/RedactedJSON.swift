import CPalaceText
import PalaceWire

/// Copies a JSON body into an export straight from its bytes: compact, with secrets redacted, building no tree.
///
/// Invariant: when `append` returns true it has appended exactly the bytes of
/// `redactor.json(try JSONValue.parse(body)).serializedBytes()` (the slow path it replaces: one `JSONValue` per
/// member and string, then a re-serialisation). Whatever it cannot copy with certainty — invalid JSON or UTF-8,
/// nesting deeper than the parser allows, an object with a repeated key, a key with escapes — makes it return
/// false with `out` unchanged, and the caller takes the slow path, so the output never depends on which path ran.
/// Strings without escapes are copied as they are (the serializer would write the same bytes) and masked in place;
/// strings with escapes are decoded, redacted and re-escaped.
struct RedactedJSON {
    let src: UnsafeBufferPointer<UInt8>
    let redactor: Redactor
    var pos = 0
    /// Hashes of the keys of the objects being copied, innermost last (repeated-key check).
    var keyHashes: [UInt64] = []
    /// Scratch for the decoded text of escaped strings (`canonical`).
    var decoded: [UInt8] = []
    /// The whole document is valid UTF-8, so every string in it is (its content lies between ASCII quotes): no
    /// check per string.
    var validUTF8 = false
    /// The default rules find nothing to mask anywhere in the document's bytes, so in no string without escapes
    /// either: a key-like token cannot cross a quote, and a string's content starts and ends where its token
    /// runs do in the document. (Escaped strings are still checked decoded: `\n` before `sk-` makes a boundary.)
    var noKeyLike = false

    /// Appends the redacted compact form of the JSON document `body` (surrounding whitespace allowed) to `out`.
    static func append(_ body: UnsafeBufferPointer<UInt8>, redactor: Redactor, to out: inout [UInt8]) -> Bool {
        var copier = RedactedJSON(src: body, redactor: redactor)
        // Two SIMD passes over the document instead of one per string (most bodies are valid and have no keys).
        copier.validUTF8 = UTF8Check.isValid(body)
        copier.noKeyLike = !redactor.enabled || !Redactor.hasKeyLike(body)
        let mark = out.count
        copier.skipSpace()
        if copier.value(depth: 0, into: &out) {
            copier.skipSpace()
            if copier.pos == body.count { return true }
        }
        out.removeSubrange(mark...)
        return false
    }

    @inline(__always) mutating func skipSpace() {
        while pos < src.count {
            let b = src[pos]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            pos += 1
        }
    }

    mutating func value(depth: Int, into out: inout [UInt8]) -> Bool {
        guard pos < src.count else { return false }
        switch src[pos] {
        case UInt8(ascii: "{"): return object(depth: depth + 1, into: &out)
        case UInt8(ascii: "["): return array(depth: depth + 1, into: &out)
        case UInt8(ascii: "\""): return string(secret: false, into: &out)
        case UInt8(ascii: "t"): return literal("true", into: &out)
        case UInt8(ascii: "f"): return literal("false", into: &out)
        case UInt8(ascii: "n"): return literal("null", into: &out)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number(into: &out)
        default: return false
        }
    }

    mutating func object(depth: Int, into out: inout [UInt8]) -> Bool {
        guard depth <= JSONValue.defaultMaxDepth else { return false }
        pos += 1
        skipSpace()
        guard pos < src.count else { return false }
        if src[pos] == UInt8(ascii: "}") { pos += 1; out.append(UInt8(ascii: "{")); out.append(UInt8(ascii: "}")); return true }
        out.append(UInt8(ascii: "{"))
        let base = keyHashes.count
        defer { keyHashes.removeSubrange(base...) }
        while true {
            guard pos < src.count, src[pos] == UInt8(ascii: "\""), let (start, end, escaped, ascii) = scanString(),
                  !escaped else { return false }
            let key = UnsafeBufferPointer(rebasing: src[start..<end])
            if !ascii && !validUTF8 && !UTF8Check.isValid(key) { return false }
            // A repeated key would collapse into one member on the slow path: leave such objects to it.
            var h: UInt64 = 0xcbf29ce484222325
            for b in key { h = (h ^ UInt64(b)) &* 0x100000001b3 }
            if keyHashes.count - base > 64 { return false }
            for i in base..<keyHashes.count where keyHashes[i] == h { return false }
            keyHashes.append(h)
            if keyHashes.count - base > 1 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: src[(start - 1)...end]))
            skipSpace()
            guard pos < src.count, src[pos] == UInt8(ascii: ":") else { return false }
            pos += 1
            out.append(UInt8(ascii: ":"))
            skipSpace()
            guard pos < src.count else { return false }
            let secret = redactor.enabled && src[pos] == UInt8(ascii: "\"")
                && (ascii ? Redactor.isSecretName(ascii: key) : Redactor.isSecretName(String(decoding: key, as: UTF8.self)))
            guard secret ? string(secret: true, into: &out) : value(depth: depth, into: &out) else { return false }
            skipSpace()
            guard pos < src.count else { return false }
            switch src[pos] {
            case UInt8(ascii: ","): pos += 1; skipSpace()
            case UInt8(ascii: "}"): pos += 1; out.append(UInt8(ascii: "}")); return true
            default: return false
            }
        }
    }

    mutating func array(depth: Int, into out: inout [UInt8]) -> Bool {
        guard depth <= JSONValue.defaultMaxDepth else { return false }
        pos += 1
        skipSpace()
        guard pos < src.count else { return false }
        out.append(UInt8(ascii: "["))
        if src[pos] == UInt8(ascii: "]") { pos += 1; out.append(UInt8(ascii: "]")); return true }
        var first = true
        while true {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            guard value(depth: depth, into: &out) else { return false }
            skipSpace()
            guard pos < src.count else { return false }
            switch src[pos] {
            case UInt8(ascii: ","): pos += 1; skipSpace()
            case UInt8(ascii: "]"): pos += 1; out.append(UInt8(ascii: "]")); return true
            default: return false
            }
        }
    }

    /// Finds the end of the string at `pos` (the opening quote); `pos` moves past the closing quote.
    /// Returns the content range, whether it has escapes and whether it is all ASCII; nil for a raw control byte
    /// or a missing closing quote.
    mutating func scanString() -> (Int, Int, Bool, Bool)? {
        let start = pos + 1
        guard start <= src.count, let base = src.baseAddress else { return nil }
        var escaped: Int32 = 0, ascii: Int32 = 0
        let length = palace_json_scan_string(base + start, src.count - start, &escaped, &ascii)
        guard length >= 0 else { return nil }
        pos = start + length + 1
        return (start, start + length, escaped != 0, ascii != 0)
    }

    /// A string value: copied (and masked in place) when it has no escapes, else decoded, redacted and re-escaped.
    /// `secret`: the member's name says it holds a secret, so a non-empty value is masked whole.
    mutating func string(secret: Bool, into out: inout [UInt8]) -> Bool {
        let tokenStart = pos
        guard let (start, end, escaped, ascii) = scanString() else { return false }
        let raw = UnsafeBufferPointer(rebasing: src[start..<end])
        if escaped && !secret && !redactor.hasExtraPatterns && canonical(raw, ascii: ascii) {
            // Escaped as the serializer would escape it, and nothing to mask: the bytes as they are.
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: raw)
            out.append(UInt8(ascii: "\""))
            return true
        }
        if escaped || secret || redactor.hasExtraPatterns {
            let text: String
            if escaped {
                guard case .string(let s)? = try? JSONValue.parse(UnsafeBufferPointer(rebasing: src[tokenStart..<pos]))
                else { return false }
                text = s
            } else {
                guard ascii || validUTF8 || UTF8Check.isValid(raw) else { return false }
                text = String(decoding: raw, as: UTF8.self)
            }
            if secret && !text.isEmpty {
                JSONValue.appendString(Redactor.maskKeepingMask(text), to: &out)
            } else {
                JSONValue.appendString(redactor.text(text), to: &out)
            }
            return true
        }
        if !ascii && !validUTF8 && !UTF8Check.isValid(raw) { return false }
        out.append(UInt8(ascii: "\""))
        let at = out.count
        out.append(contentsOf: raw)
        if redactor.enabled && !noKeyLike && raw.count >= 11 && Redactor.hasKeyLike(raw) {
            _ = out.withUnsafeMutableBufferPointer { Redactor.maskKeyLike(in: UnsafeMutableBufferPointer(rebasing: $0[at...])) }
        }
        out.append(UInt8(ascii: "\""))
        return true
    }

    /// Whether the escaped string content `raw` is exactly what `appendString` of its decoded text writes
    /// (`palace_json_canonical`), is valid UTF-8, and has nothing the default rules would mask — then the
    /// decode-redact-escape round trip would give `raw` back.
    mutating func canonical(_ raw: UnsafeBufferPointer<UInt8>, ascii: Bool) -> Bool {
        if decoded.count < raw.count { decoded = [UInt8](repeating: 0, count: max(raw.count, 2 * decoded.count)) }
        var length = 0
        let ok = decoded.withUnsafeMutableBufferPointer { d in
            palace_json_canonical(raw.baseAddress, raw.count, d.baseAddress, &length) != 0
        }
        guard ok, ascii || validUTF8 || UTF8Check.isValid(raw) else { return false }
        guard redactor.enabled else { return true }
        return decoded.withUnsafeBufferPointer { !Redactor.hasKeyLike(UnsafeBufferPointer(rebasing: $0[0..<length])) }
    }

    mutating func literal(_ word: StaticString, into out: inout [UInt8]) -> Bool {
        let n = word.utf8CodeUnitCount
        guard src.count - pos >= n else { return false }
        for i in 0..<n where src[pos + i] != word.utf8Start[i] { return false }
        out.append(contentsOf: UnsafeBufferPointer(start: word.utf8Start, count: n))
        pos += n
        return true
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, copied verbatim (the parser keeps number text).
    mutating func number(into out: inout [UInt8]) -> Bool {
        let start = pos
        @inline(__always) func digit() -> Bool { pos < src.count && src[pos] &- UInt8(ascii: "0") < 10 }
        if src[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < src.count else { return false }
        if src[pos] == UInt8(ascii: "0") {
            pos += 1
        } else if digit() {
            while digit() { pos += 1 }
        } else {
            return false
        }
        if pos < src.count, src[pos] == UInt8(ascii: ".") {
            pos += 1
            guard digit() else { return false }
            while digit() { pos += 1 }
        }
        if pos < src.count, src[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            if pos < src.count, src[pos] == UInt8(ascii: "+") || src[pos] == UInt8(ascii: "-") { pos += 1 }
            guard digit() else { return false }
            while digit() { pos += 1 }
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: src[start..<pos]))
        return true
    }
}
