#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Time formats of the exports and the import: MoonPalace's local `YYYY-MM-DD HH:MM:SS`, its file-name stamp
/// `YYYYMMDDhhmmss`, and ISO 8601 UTC with milliseconds (HAR, JSONL).
public enum ExportTime {
    static func parts(_ micros: Int64, utc: Bool) -> tm {
        var t = time_t(micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000)
        var p = tm()
        if utc { gmtime_r(&t, &p) } else { localtime_r(&t, &p) }
        return p
    }

    static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// `2024-08-21 15:04:05` in local time.
    public static func local(_ micros: Int64) -> String {
        let p = parts(micros, utc: false)
        return pad(Int(p.tm_year) + 1900, 4) + "-" + pad(Int(p.tm_mon) + 1, 2) + "-" + pad(Int(p.tm_mday), 2) + " "
            + pad(Int(p.tm_hour), 2) + ":" + pad(Int(p.tm_min), 2) + ":" + pad(Int(p.tm_sec), 2)
    }

    /// `20240821150405` in local time.
    public static func compact(_ micros: Int64) -> String {
        let p = parts(micros, utc: false)
        return pad(Int(p.tm_year) + 1900, 4) + pad(Int(p.tm_mon) + 1, 2) + pad(Int(p.tm_mday), 2)
            + pad(Int(p.tm_hour), 2) + pad(Int(p.tm_min), 2) + pad(Int(p.tm_sec), 2)
    }

    /// `2024-08-21T07:04:05.123Z`.
    public static func iso(_ micros: Int64) -> String {
        let p = parts(micros, utc: true)
        let ms = Int(((micros % 1_000_000) + 1_000_000) % 1_000_000 / 1000)
        return pad(Int(p.tm_year) + 1900, 4) + "-" + pad(Int(p.tm_mon) + 1, 2) + "-" + pad(Int(p.tm_mday), 2) + "T"
            + pad(Int(p.tm_hour), 2) + ":" + pad(Int(p.tm_min), 2) + ":" + pad(Int(p.tm_sec), 2) + "." + pad(ms, 3) + "Z"
    }

    /// Unix µs of a local wall-clock time `YYYY-MM-DD HH:MM:SS` (optionally with fractional seconds, a `T`, or a
    /// trailing zone `Z`/`+08:00`, which then wins over local time). Nil when it does not read as one.
    public static func parseLocal(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= b.count else { return nil }
            var v = 0
            for k in from..<(from + len) {
                guard b[k] >= 0x30 && b[k] <= 0x39 else { return nil }
                v = v * 10 + Int(b[k] - 0x30)
            }
            return v
        }
        guard b.count >= 19, let y = num(0, 4), b[4] == 0x2D, let mo = num(5, 2), b[7] == 0x2D, let d = num(8, 2),
              b[10] == 0x20 || b[10] == 0x54, let h = num(11, 2), b[13] == 0x3A, let mi = num(14, 2), b[16] == 0x3A,
              let s = num(17, 2), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        var i = 19
        var fracMicros = 0
        if i < b.count && b[i] == 0x2E {
            i += 1
            var digits = 0
            while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 {
                if digits < 6 { fracMicros = fracMicros * 10 + Int(b[i] - 0x30); digits += 1 }
                i += 1
            }
            while digits < 6 { fracMicros *= 10; digits += 1 }
        }
        var p = tm()
        p.tm_year = Int32(y - 1900); p.tm_mon = Int32(mo - 1); p.tm_mday = Int32(d)
        p.tm_hour = Int32(h); p.tm_min = Int32(mi); p.tm_sec = Int32(s)
        let seconds: Int
        if i < b.count {
            // An explicit zone: Z or ±HH:MM.
            var offset = 0
            if b[i] == 0x5A || b[i] == 0x7A { offset = 0; i += 1 }
            else if b[i] == 0x2B || b[i] == 0x2D, let oh = num(i + 1, 2) {
                let om = (i + 3 < b.count && b[i + 3] == 0x3A) ? (num(i + 4, 2) ?? 0) : (num(i + 3, 2) ?? 0)
                offset = (oh * 3600 + om * 60) * (b[i] == 0x2D ? -1 : 1)
                i = b.count
            } else { return nil }
            seconds = Int(timegm(&p)) - offset
        } else {
            p.tm_isdst = -1
            seconds = Int(mktime(&p))
        }
        return Int64(seconds) * 1_000_000 + Int64(fracMicros)
    }
}
