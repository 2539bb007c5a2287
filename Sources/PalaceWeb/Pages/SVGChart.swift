/// Small inline SVG charts drawn on the server (no script, no library): stacked bars and lines over a shared
/// x axis of labels (days). Colours come from the stylesheet through `s0`…`s7` classes.
struct SVGChart {
    struct Series {
        var name: String
        var values: [Double?]
        /// Palette slot (`s0`…`s7`): one model keeps its colour across charts and percentiles.
        var color: Int = 0
        var dashed = false
    }

    let title: String
    let labels: [String]
    let series: [Series]
    /// Formats axis and tooltip values.
    let format: (Double) -> String
    static let width = 760.0, height = 200.0
    static let left = 56.0, right = 10.0, top = 22.0, bottom = 28.0

    func bars() -> String {
        var totals = [Double](repeating: 0, count: labels.count)
        for s in series { for (i, v) in s.values.enumerated() { totals[i] += v ?? 0 } }
        let maxY = max(4, niceMax(totals.max() ?? 0))   // counts: whole-number ticks at quarters
        var body = ""
        let slot = plotWidth / Double(max(labels.count, 1))
        let barW = max(1, slot * 0.8)
        for i in labels.indices {
            var base = 0.0
            for s in series {
                guard let v = s.values[i], v > 0 else { continue }
                let y0 = y(base, maxY), y1 = y(base + v, maxY)
                body += "<rect x=\(q(Self.left + slot * Double(i) + (slot - barW) / 2)) y=\(q(y1)) width=\(q(barW)) height=\(q(max(0.5, y0 - y1))) class=\"s\(s.color % 8)\">"
                    + "<title>\(HTML.text(labels[i])) · \(HTML.text(s.name)): \(HTML.text(format(v)))</title></rect>"
                base += v
            }
        }
        return frame(maxY: maxY, body: body)
    }

    func lines() -> String {
        let maxY = niceMax(series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0)
        var body = ""
        let slot = plotWidth / Double(max(labels.count, 1))
        for s in series {
            var points: [String] = []
            for (i, v) in s.values.enumerated() {
                guard let v else { continue }
                let px = Self.left + slot * (Double(i) + 0.5), py = y(v, maxY)
                points.append(Format.fixed(px, 1) + "," + Format.fixed(py, 1))
                body += "<circle cx=\(q(px)) cy=\(q(py)) r=\"2.5\" class=\"s\(s.color % 8)\"><title>\(HTML.text(labels[i])) · \(HTML.text(s.name)): \(HTML.text(format(v)))</title></circle>"
            }
            if points.count > 1 {
                body = "<polyline points=\"\(points.joined(separator: " "))\" class=\"ln s\(s.color % 8)\"\(s.dashed ? " stroke-dasharray=\"4 3\"" : "")/>" + body
            }
        }
        return frame(maxY: maxY, body: body)
    }

    var plotWidth: Double { Self.width - Self.left - Self.right }
    var plotHeight: Double { Self.height - Self.top - Self.bottom }

    func y(_ v: Double, _ maxY: Double) -> Double { Self.top + plotHeight * (1 - (maxY > 0 ? v / maxY : 0)) }

    func q(_ v: Double) -> String { "\"" + Format.fixed(v, 1) + "\"" }

    /// 1, 2 or 5 times a power of ten, at least `v`.
    func niceMax(_ v: Double) -> Double {
        guard v > 0 else { return 1 }
        var p = 1.0
        while p * 10 <= v { p *= 10 }
        while p > v { p /= 10 }
        for m in [1.0, 2.0, 5.0, 10.0] where m * p >= v { return m * p }
        return 10 * p
    }

    func frame(maxY: Double, body: String) -> String {
        var svg = "<figure class=\"chart\"><figcaption>\(HTML.text(title))</figcaption>"
            + "<svg viewBox=\"0 0 \(Int(Self.width)) \(Int(Self.height))\" width=\"100%\" role=\"img\" aria-label=\"\(HTML.attr(title))\">"
        for t in 0...4 {
            let v = maxY * Double(t) / 4, py = y(v, maxY)
            svg += "<line x1=\(q(Self.left)) y1=\(q(py)) x2=\(q(Self.width - Self.right)) y2=\(q(py)) class=\"grid\"/>"
            svg += "<text x=\(q(Self.left - 6)) y=\(q(py + 4)) text-anchor=\"end\" class=\"lbl\">\(HTML.text(format(v)))</text>"
        }
        let slot = plotWidth / Double(max(labels.count, 1))
        let every = max(1, Int((Double(labels.count) / 8).rounded(.up)))
        for (i, l) in labels.enumerated() where i % every == 0 || i == labels.count - 1 {
            svg += "<text x=\(q(Self.left + slot * (Double(i) + 0.5))) y=\(q(Self.height - 8)) text-anchor=\"middle\" class=\"lbl\">\(HTML.text(l))</text>"
        }
        svg += body + "</svg><div class=\"legend\">"
        for s in series { svg += "<span class=\"key s\(s.color % 8)\(s.dashed ? " dashed" : "")\"><i></i>\(HTML.text(s.name))</span>" }
        return svg + "</div></figure>"
    }
}
