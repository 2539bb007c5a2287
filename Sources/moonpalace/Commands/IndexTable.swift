import PalaceIndex

/// MoonPalace's ASCII box table (`+`, `-`, `|`), sized in terminal cells (East-Asian wide characters count two),
/// shrunk to fit `maxWidth` by cutting the widest columns first (cut cells end with "…"). Cells may hold several
/// lines; `wrap` columns are wrapped at that many cells instead of cut.
struct IndexTable {
    var headers: [String]
    var rows: [[String]]
    var maxWidth: Int?
    var wrap: [Int: Int] = [:]
    var headerless = false

    func render() -> String {
        // Columns that cannot fit even at the minimum width (4 cells + borders) are left out from the right (the
        // least important ones come last).
        if let maxWidth, headers.count > 1, headers.count * 7 + 1 > maxWidth {
            let keep = max(1, (maxWidth - 1) / 7)
            var t = self
            t.headers = Array(headers.prefix(keep))
            t.rows = rows.map { Array($0.prefix(keep)) }
            t.wrap = wrap.filter { $0.key < keep }
            return t.render()
        }
        let n = headers.count
        var cells = rows.map { row in (0..<n).map { i in i < row.count ? row[i] : "" } }
        for (col, width) in wrap {
            for r in cells.indices where col < n { cells[r][col] = Self.wrapText(cells[r][col], width) }
        }
        var widths = (0..<n).map { i in
            max(headerless ? 0 : DisplayWidth.of(headers[i]),
                cells.map { $0[i].split(separator: "\n", omittingEmptySubsequences: false).map { DisplayWidth.of($0) }.max() ?? 0 }.max() ?? 0)
        }
        if let maxWidth {
            // Borders take 3 cells per column plus one.
            while widths.reduce(0, +) + 3 * n + 1 > maxWidth, let widest = widths.indices.max(by: { widths[$0] < widths[$1] }),
                  widths[widest] > 4 {
                widths[widest] -= 1
            }
        }
        let line = "+" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "+") + "+"
        var out = [line]
        func emit(_ row: [String]) {
            let split = row.map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
            let height = split.map(\.count).max() ?? 1
            for k in 0..<height {
                let parts = (0..<n).map { i -> String in
                    let text = DisplayWidth.truncate(k < split[i].count ? split[i][k] : "", to: widths[i])
                    return " " + text + String(repeating: " ", count: widths[i] - DisplayWidth.of(text)) + " "
                }
                out.append("|" + parts.joined(separator: "|") + "|")
            }
        }
        if !headerless { emit(headers); out.append(line) }
        for r in cells { emit(r) }
        out.append(line)
        return out.joined(separator: "\n")
    }

    /// Hard-wraps every line of `s` at `width` cells.
    static func wrapText(_ s: String, _ width: Int) -> String {
        var out: [String] = []
        for line in s.split(separator: "\n", omittingEmptySubsequences: false) {
            var cur = "", w = 0
            for ch in line {
                let cw = DisplayWidth.of(ch)
                if w + cw > width { out.append(cur); cur = ""; w = 0 }
                cur.append(ch); w += cw
            }
            out.append(cur)
        }
        return out.joined(separator: "\n")
    }
}
