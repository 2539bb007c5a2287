/// The `Server-Timing` response header (W3C: `metric;desc="…";dur=12.5, other;dur=3`).
public enum ServerTiming {
    /// The `dur` of the first metric that has one, in milliseconds (decimals kept): `inner; dur=1033` → 1033.
    /// Parameter names are case-insensitive, values may be quoted; nil when no metric has a valid
    /// non-negative finite `dur`.
    public static func durationMs(_ header: String) -> Double? {
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
