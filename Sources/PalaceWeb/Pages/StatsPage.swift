#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PalaceIndex

/// `/palace/stats`: requests, errors, tokens, latency and TTFT percentiles per model and day, as charts and a
/// table, over the same filter as the list (default: the last 30 days).
struct StatsPage {
    let layout: Layout
    let filter: ListFilter
    let rows: [StatsRow]
    let problem: ListFilter.Problem?
    let elapsedMs: Double
    /// Hour bucket keys (`YYYY-MM-DD HH`) when `rows` are per hour; nil when per day.
    let hours: [String]?
    /// The rows came from the stats cache (nothing was indexed since they were computed).
    var cached = false
    /// The rows are this many seconds old (computed before the latest exchanges were indexed); a refresh runs.
    var staleSeconds: Int64?

    func render() -> String {
        var body = form()
        switch problem {
        case .predicate(let e)?: body += "<div class=\"panel problem\" id=\"problem\">" + ListPage.predicateError(e) + "</div>"
        case .field(_, let m)?: body += "<div class=\"panel problem\" id=\"problem\"><strong>\(HTML.text(m))</strong></div>"
        case nil:
            if rows.isEmpty {
                body += "<p class=\"empty\" id=\"empty\">No exchanges in this range.</p>"
            } else {
                body += summaryLine() + charts() + table()
            }
        }
        return layout.page(title: "Stats", section: .stats, body: body)
    }

    func form() -> String {
        """
        <form class="filters panel" method="get" action="\(HTML.attr(layout.prefix))/stats">
        <div class="row">
        <label class="grow">Predicate <input type="text" name="p" id="predicate" class="mono" value="\(HTML.attr(filter.predicate))" placeholder="path ~ '*/chat/completions'" autocomplete="off" spellcheck="false"></label>
        <label>Model <input type="text" name="model" value="\(HTML.attr(filter.model))" placeholder="kimi-k2*"></label>
        <label>Since <input type="text" name="since" value="\(HTML.attr(filter.since))" placeholder="30d"></label>
        <label>Until <input type="text" name="until" value="\(HTML.attr(filter.until))" placeholder="YYYY-MM-DD"></label>
        <button type="submit">Apply</button>
        </div>
        <div id="predicate-check" class="predicate-check" aria-live="polite"></div>
        </form>
        """
    }

    /// Models ordered by request count (most first): they keep their colour across the charts.
    var models: [String] {
        var n: [String: Int] = [:]
        for r in rows { n[r.model, default: 0] += r.requests }
        return n.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map(\.key)
    }

    /// The x axis: every day (or hour) from the first to the last with traffic.
    var days: [String] { hours ?? Self.dayRange(Set(rows.map(\.day)).sorted()) }

    /// Short axis labels: `11-29` for days, `11-29 09h` for hours.
    var labels: [String] { days.map { hours == nil ? String($0.suffix(5)) : String($0.dropFirst(5)) + "h" } }

    func summaryLine() -> String {
        let req = rows.reduce(0) { $0 + $1.requests }, err = rows.reduce(0) { $0 + $1.errors }
        let tok = rows.reduce(0) { $0 + $1.promptTokens + $1.completionTokens }
        let span = hours == nil ? "\(days.count) day\(days.count == 1 ? "" : "s")" : "\(days.count) hour\(days.count == 1 ? "" : "s")"
        return "<p class=\"summary\" id=\"stats-summary\"><b>\(Format.count(req))</b> requests · <b>\(Format.count(err))</b> errors · "
            + "<b>\(Format.count(tok))</b> tokens · \(models.count) model\(models.count == 1 ? "" : "s") · " + span
            + " <span class=\"meta\" id=\"stats-time\">(\(timing))</span></p>"
    }

    var timing: String {
        if let staleSeconds {
            return "as of \(staleSeconds) s ago, before the newest exchanges; updating in the background, reload for "
                + "the newest: \(Format.ms(elapsedMs))"
        }
        return (cached ? "from cache, nothing indexed since: " : "computed in ") + Format.ms(elapsedMs)
    }

    func charts() -> String {
        let days = self.days, models = self.models
        var byKey: [String: StatsRow] = [:]
        for r in rows { byKey[r.day + "\u{0}" + r.model] = r }
        func series(_ f: (StatsRow) -> Double?) -> [SVGChart.Series] {
            models.enumerated().map { k, m in
                SVGChart.Series(name: m, values: days.map { d in byKey[d + "\u{0}" + m].flatMap(f) }, color: k)
            }
        }
        func pct(_ p50: (StatsRow) -> Double?, _ p95: (StatsRow) -> Double?) -> [SVGChart.Series] {
            models.prefix(6).enumerated().flatMap { k, m in [
                SVGChart.Series(name: m + " p50", values: days.map { byKey[$0 + "\u{0}" + m].flatMap(p50) }, color: k),
                SVGChart.Series(name: m + " p95", values: days.map { byKey[$0 + "\u{0}" + m].flatMap(p95) }, color: k, dashed: true),
            ] }
        }
        let count: (Double) -> String = { $0 == $0.rounded() ? Format.count(Int($0)) : Format.fixed($0, 1) }
        let axis = self.labels
        let ms: (Double) -> String = { Format.ms($0) }
        return "<section class=\"charts\">"
            + SVGChart(title: hours == nil ? "Requests per day" : "Requests per hour", labels: axis, series: series { Double($0.requests) }, format: count).bars()
            + SVGChart(title: hours == nil ? "Errors per day" : "Errors per hour", labels: axis, series: series { Double($0.errors) }, format: count).bars()
            + SVGChart(title: "Tokens per \(hours == nil ? "day" : "hour") (prompt + completion)", labels: axis,
                       series: series { Double($0.promptTokens + $0.completionTokens) }, format: count).bars()
            + SVGChart(title: "Latency p50 / p95", labels: axis, series: pct(\.latencyP50, \.latencyP95), format: ms).lines()
            + SVGChart(title: "TTFT p50 / p95", labels: axis, series: pct(\.ttftP50, \.ttftP95), format: ms).lines()
            + "</section>"
    }

    func table() -> String {
        var html = "<section class=\"panel\"><h2>By \(hours == nil ? "day" : "hour") and model</h2><table class=\"list stats\" id=\"stats-table\"><thead><tr><th>\(hours == nil ? "day" : "hour")</th><th>model</th>"
            + "<th>requests</th><th>errors</th><th>prompt</th><th>completion</th><th>cached</th><th>latency p50</th>"
            + "<th>p95</th><th>TTFT p50</th><th>p95</th></tr></thead><tbody>"
        for r in rows.reversed() {
            html += "<tr><td>\(HTML.text(r.day))</td><td>\(HTML.text(r.model))</td><td class=\"num\">\(Format.count(r.requests))</td>"
                + "<td class=\"num\">\(Format.count(r.errors))</td><td class=\"num\">\(Format.count(r.promptTokens))</td>"
                + "<td class=\"num\">\(Format.count(r.completionTokens))</td><td class=\"num\">\(Format.count(r.cachedTokens))</td>"
                + "<td class=\"num\">\(Format.ms(r.latencyP50))</td><td class=\"num\">\(Format.ms(r.latencyP95))</td>"
                + "<td class=\"num\">\(Format.ms(r.ttftP50))</td><td class=\"num\">\(Format.ms(r.ttftP95))</td></tr>"
        }
        return html + "</tbody></table></section>"
    }

    /// Every day from the first to the last (days without traffic get empty slots, so the x axis is time).
    static func dayRange(_ sorted: [String]) -> [String] {
        guard let first = sorted.first, let last = sorted.last, first != last else { return sorted }
        var out: [String] = []
        var t = tm()
        let parts = first.split(separator: "-").compactMap { Int32($0) }
        guard parts.count == 3 else { return sorted }
        t.tm_year = parts[0] - 1900; t.tm_mon = parts[1] - 1; t.tm_mday = parts[2]; t.tm_hour = 12; t.tm_isdst = -1
        for _ in 0..<3700 {
            var copy = t
            _ = mktime(&copy)
            let d = Format.pad(Int(copy.tm_year) + 1900, 4) + "-" + Format.pad(Int(copy.tm_mon) + 1, 2) + "-" + Format.pad(Int(copy.tm_mday), 2)
            out.append(d)
            if d >= last { return out }
            t.tm_mday += 1
        }
        return sorted
    }
}
