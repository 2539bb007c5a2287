import Foundation

/// Durations and sizes as people write them, shared by flags and config.yaml (one parser for both).
enum Quantity {
    /// `90`, `90s`, `15m`, `12h`, `30d`, `2w` → seconds. Nil for anything else (or a negative/zero value).
    static func seconds(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count)), v > 0, v.isFinite else { return nil }
            return v * scale
        }
        guard let v = Double(t), v > 0, v.isFinite else { return nil }
        return v
    }

    /// `1048576`, `512KiB`, `100MB`, `10GiB`, `1TB` (KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024;
    /// `K`/`M`/`G`/`T` alone mean the binary ones) → bytes. Nil for anything else or zero.
    static func bytes(_ text: String) -> UInt64? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: " ", with: "")
        let units: [(String, Double)] = [
            ("kib", 1024), ("mib", 1_048_576), ("gib", 1_073_741_824), ("tib", 1_099_511_627_776),
            ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("tb", 1e12),
            ("k", 1024), ("m", 1_048_576), ("g", 1_073_741_824), ("t", 1_099_511_627_776), ("b", 1),
        ]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count)), v > 0, v * scale < 1.8e19 else { return nil }
            return UInt64(v * scale)
        }
        guard let v = UInt64(t), v > 0 else { return nil }
        return v
    }
}
