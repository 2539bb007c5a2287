#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Times as people type them on the command line, resolved to Unix microseconds.
///
/// Accepted: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` (local time, like MoonPalace's `created_at`), RFC 3339
/// (`2026-11-23T10:00:00Z`, `…+08:00`, fractions), and relative ages `30s`, `15m`, `2h`, `3d`, `1w` (that long
/// before now). A time covers an interval as wide as its precision: `2026-11-23` is the whole (local) day, so
/// `requested_at <= '2026-11-23'` includes that day and `== '2026-11-23'` means "on that day".
public struct TimeExpression: Sendable, Equatable {
    /// First microsecond of the interval.
    public let start: Int64
    /// One past the last microsecond.
    public let end: Int64

    public static func parse(_ text: String, nowMicros: Int64 = TimeExpression.nowMicros()) -> TimeExpression? {
        let t = text.trimmingSpaces
        if let rel = relative(t) {
            let at = nowMicros - rel
            return TimeExpression(start: at, end: at + 1)
        }
        return absolute(t)
    }

    public static func nowMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    static func relative(_ t: String) -> Int64? {
        guard let unit = t.last, let n = Int64(t.dropLast()), n >= 0 else { return nil }
        let seconds: Int64
        switch unit {
        case "s": seconds = 1
        case "m": seconds = 60
        case "h": seconds = 3600
        case "d": seconds = 86400
        case "w": seconds = 7 * 86400
        default: return nil
        }
        return n * seconds * 1_000_000
    }

    static func absolute(_ t: String) -> TimeExpression? {
        let u = Array(t.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= u.count else { return nil }
            var v = 0
            for b in u[from..<(from + len)] { guard b >= 48 && b <= 57 else { return nil }; v = v * 10 + Int(b - 48) }
            return v
        }
        guard u.count >= 10, let y = num(0, 4), u[4] == 45, let mo = num(5, 2), u[7] == 45, let d = num(8, 2),
              (1...12).contains(mo), (1...31).contains(d) else { return nil }
        var tmv = tm()
        tmv.tm_year = Int32(y - 1900); tmv.tm_mon = Int32(mo - 1); tmv.tm_mday = Int32(d); tmv.tm_isdst = -1
        if u.count == 10 {
            let s = Int64(mktime(&tmv))
            var next = tm(); next.tm_year = tmv.tm_year; next.tm_mon = Int32(mo - 1); next.tm_mday = Int32(d + 1)
            next.tm_isdst = -1
            return TimeExpression(start: s * 1_000_000, end: Int64(mktime(&next)) * 1_000_000)
        }
        guard u[10] == 32 || u[10] == 84 || u[10] == 116, let h = num(11, 2), u.count >= 16, u[13] == 58,
              let mi = num(14, 2), h < 24, mi < 60 else { return nil }
        tmv.tm_hour = Int32(h); tmv.tm_min = Int32(mi)
        var i = 16, width: Int64 = 60_000_000, micros: Int64 = 0
        if i < u.count && u[i] == 58 {
            guard let s = num(17, 2), s < 61 else { return nil }
            tmv.tm_sec = Int32(s); i = 19; width = 1_000_000
            if i < u.count && (u[i] == 46 || u[i] == 44) {
                var j = i + 1, scale: Int64 = 100_000
                while j < u.count, u[j] >= 48, u[j] <= 57 { micros += Int64(u[j] - 48) * scale; scale /= 10; j += 1 }
                width = max(1, scale * 10); i = j
            }
        }
        var base: Int64
        if i == u.count {
            base = Int64(mktime(&tmv))
        } else if u[i] == 90 || u[i] == 122, i + 1 == u.count {
            base = Int64(timegm(&tmv))
        } else if u[i] == 43 || u[i] == 45, let oh = num(i + 1, 2) {
            var om = 0
            if i + 3 < u.count { guard let m = num(u[i + 3] == 58 ? i + 4 : i + 3, 2) else { return nil }; om = m }
            let off = Int64(oh * 3600 + om * 60) * (u[i] == 43 ? 1 : -1)
            base = Int64(timegm(&tmv)) - off
        } else {
            return nil
        }
        let start = base * 1_000_000 + micros
        return TimeExpression(start: start, end: start + width)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
