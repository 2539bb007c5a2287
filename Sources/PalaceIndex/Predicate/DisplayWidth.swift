/// Terminal cell width of text: East-Asian wide and full-width characters (CJK, Hangul, full-width forms, most
/// emoji) take two cells, combining marks and zero-width characters none, everything else one.
public enum DisplayWidth {
    public static func of(_ s: some StringProtocol) -> Int {
        var w = 0
        for ch in s { w += of(ch) }
        return w
    }

    public static func of(_ ch: Character) -> Int {
        guard let first = ch.unicodeScalars.first else { return 0 }
        return scalarWidth(first.value)
    }

    static func scalarWidth(_ v: UInt32) -> Int {
        if v == 0 || (v >= 0x300 && v <= 0x36F) || v == 0x200B || v == 0x200D || (v >= 0xFE00 && v <= 0xFE0F) {
            return 0
        }
        if v < 0x1100 { return 1 }
        let wide: [ClosedRange<UInt32>] = [
            0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
            0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
            0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD,
        ]
        return wide.contains { $0.contains(v) } ? 2 : 1
    }

    /// Cuts `s` to at most `width` cells, ending with "…" when something was cut.
    public static func truncate(_ s: String, to width: Int) -> String {
        if of(s) <= width { return s }
        guard width > 1 else { return width == 1 ? "…" : "" }
        var out = "", w = 0
        for ch in s {
            let cw = of(ch)
            if w + cw > width - 1 { break }
            out.append(ch)
            w += cw
        }
        return out + "…"
    }
}
