/// The `Server-Timing` response header (W3C: `metric;desc="…";dur=12.5, other;dur=3`).
public enum ServerTiming {
    /// The `dur` of the first metric that has one, in milliseconds (decimals kept): `inner; dur=1033` → 1033.
    /// Parameter names are case-insensitive, values may be quoted; nil when no metric has a valid
    /// non-negative finite `dur`.
    public static func durationMs(_ header: String) -> Double? {
        var header = header
        if let fast = header.withUTF8({ fastDurationMs($0) }) { return fast }
        return slowDurationMs(header)
    }

    /// The same answer on the header's bytes, for printable ASCII without quotes (every header seen in practice):
    /// there a byte is a Character, so splitting and trimming agree with `slowDurationMs`. nil = not decided here.
    private static func fastDurationMs(_ b: UnsafeBufferPointer<UInt8>) -> Double?? {
        for c in b where c > 0x7E || (c < 0x20 && c != 0x09) || c == 0x22 { return nil }
        func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }
        var i = 0
        let n = b.count
        while i < n {
            // One metric: up to the next ','; its parameters follow its first ';'.
            var end = i
            while end < n && b[end] != 0x2C { end += 1 }
            // The metric's name is its first non-empty ';'-piece (`split` omits empty pieces): skip it.
            var p = i
            while p < end && b[p] == 0x3B { p += 1 }
            while p < end && b[p] != 0x3B { p += 1 }
            while p < end {
                // One parameter: (p, q) between ';' and the next ';' or the metric's end.
                let start = p + 1
                var q = start
                while q < end && b[q] != 0x3B { q += 1 }
                var eq = start
                while eq < q && b[eq] != 0x3D { eq += 1 }
                if eq < q {
                    var ns = start, ne = eq
                    while ns < ne && isBlank(b[ns]) { ns += 1 }
                    while ne > ns && isBlank(b[ne - 1]) { ne -= 1 }
                    if ne - ns == 3 && b[ns] | 0x20 == 0x64 && b[ns + 1] | 0x20 == 0x75 && b[ns + 2] | 0x20 == 0x72 {
                        var vs = eq + 1, ve = q
                        while vs < ve && isBlank(b[vs]) { vs += 1 }
                        while ve > vs && isBlank(b[ve - 1]) { ve -= 1 }
                        if let d = simpleDecimal(b, vs, ve) { return .some(d) }
                        let d = Double(String(decoding: UnsafeBufferPointer(rebasing: b[vs..<ve]), as: UTF8.self))
                        if let d, d.isFinite, d >= 0 { return .some(d) }
                    }
                }
                p = q
            }
            i = end + 1
        }
        return .some(nil)
    }

    /// `digits[.digits]` with at most 15 digits in all: exactly `Double(text)` (an exact integer divided by an
    /// exact power of ten, rounded once). nil for anything else.
    private static func simpleDecimal(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        var mantissa: UInt64 = 0
        var digits = 0, fraction = 0
        var dot = false
        var i = start
        while i < end {
            let c = b[i]
            if c == 0x2E {
                if dot { return nil }
                dot = true
            } else if c >= 0x30 && c <= 0x39 {
                mantissa = mantissa * 10 + UInt64(c - 0x30)
                digits += 1
                if dot { fraction += 1 }
                if digits > 15 { return nil }
            } else {
                return nil
            }
            i += 1
        }
        // "1." and ".5" are numbers to Double(_:) too, but keep to the plain forms; "" and "." are not numbers.
        guard digits > 0, b[start] != 0x2E, b[end - 1] != 0x2E else { return nil }
        var scale = 1.0
        for _ in 0..<fraction { scale *= 10 }
        return Double(mantissa) / scale
    }

    static func slowDurationMs(_ header: String) -> Double? {
        for metric in header.split(separator: ",") {
            for parameter in metric.split(separator: ";").dropFirst() {
                guard let eq = parameter.firstIndex(of: "=") else { continue }
                let name = trim(parameter[..<eq])
                guard name.lowercased() == "dur" else { continue }
                var value = trim(parameter[parameter.index(after: eq)...])
                if value.count >= 2, value.first == "\"", value.last == "\"" { value = value.dropFirst().dropLast() }
                if let d = Double(value), d.isFinite, d >= 0 { return d }
            }
        }
        return nil
    }

    private static func trim(_ s: Substring) -> Substring {
        var s = s
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}
