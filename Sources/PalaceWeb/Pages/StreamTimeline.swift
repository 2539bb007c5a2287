import PalaceIndex
import PalaceWire

/// For a streamed answer: the timeline (request sent → first byte → first token → last byte, to scale, from the
/// recorded timings), how the output grew event by event, and the events themselves.
///
/// The log records when the first byte and first token arrived and when the stream ended, not each event's
/// arrival time; so events are placed by their order between first token and end, never at invented times.
struct StreamTimeline {
    let summary: ExchangeSummary
    let exchange: LoadedExchange
    let displayLimit: Int
    static let eventRows = 300
    /// Events decoded for the table and the growth curve; a longer stream is counted, not decoded, past this.
    static let decodeLimit = 20_000

    struct Event {
        var index: Int
        var offset: Int
        var size: Int
        var name: String?
        var summary: String
        var outputChars: Int
        var isDone: Bool
    }

    /// Data events past `decodeLimit` (counted only).
    var skipped: Int { skippedBox.value }
    private let skippedBox = Box()
    final class Box { var value = 0 }

    func events() -> [Event] {
        var skipped = 0
        defer { skippedBox.value = skipped }
        var parser = SSEParser()
        var raw = parser.feed(exchange.responseBody)
        if let last = parser.finish() { raw.append(last) }
        var out: [Event] = []
        var offset = 0, total = 0
        for (i, e) in raw.enumerated() {
            defer { offset += e.raw.count }
            guard e.hasData else { continue }
            if out.count >= Self.decodeLimit {
                skipped += 1
                continue
            }
            var text = ""
            var produced = 0
            if e.isDone {
                text = "[DONE]"
            } else if let v = try? JSONValue.parse(e.data) {
                var bits: [String] = []
                for c in v["choices"]?.arrayValue ?? [] {
                    let d = c["delta"] ?? c["message"]
                    if let r = d?["reasoning_content"]?.stringValue, !r.isEmpty { bits.append("reasoning: " + r); produced += r.count }
                    if let t = d?["content"]?.stringValue, !t.isEmpty { bits.append(t); produced += t.count }
                    for call in d?["tool_calls"]?.arrayValue ?? [] {
                        let name = call["function"]?["name"]?.stringValue.map { "→ \($0) " } ?? ""
                        let args = call["function"]?["arguments"]?.stringValue ?? ""
                        produced += args.count
                        bits.append("tool " + name + args)
                    }
                    if let f = c["finish_reason"]?.stringValue { bits.append("finish_reason: \(f)") }
                    if let u = c["usage"], !u.isNull { bits.append("usage: " + u.serialized()) }
                }
                if let u = v["usage"], !u.isNull { bits.append("usage: " + u.serialized()) }
                if let err = v["error"] { bits.append("error: " + err.serialized()) }
                text = bits.joined(separator: " · ")
            } else {
                text = String(e.data.prefix(200))
            }
            total += produced
            out.append(Event(index: i, offset: offset, size: e.raw.count, name: e.event, summary: text, outputChars: total,
                             isDone: e.isDone))
        }
        return out
    }

    func render() -> String {
        let evs = events()
        var html = "<section class=\"panel stream\" id=\"timeline\"><h2>Stream timeline</h2>"
        if skipped > 0 {
            html += "<p class=\"truncated\">A long stream: the first \(Format.count(evs.count)) events are decoded below, "
                + "\(Format.count(skipped)) more are in the raw body.</p>"
        }
        html += timeline(evs)
        html += growth(evs)
        html += "<details class=\"events\"\(evs.count <= 40 ? " open" : "")><summary>\(Format.count(evs.count)) events</summary><table class=\"events\">"
            + "<thead><tr><th>#</th><th>byte</th><th>size</th><th>event</th><th>content</th></tr></thead><tbody>"
        for e in evs.prefix(Self.eventRows) {
            html += "<tr\(e.isDone ? " class=\"done\"" : "")><td>\(e.index)</td><td class=\"num\">\(e.offset)</td><td class=\"num\">\(e.size)</td>"
                + "<td>\(HTML.text(e.name ?? ""))</td><td class=\"evtext\">\(HTML.text(String(e.summary.prefix(400))))</td></tr>"
        }
        html += "</tbody></table>"
        if evs.count > Self.eventRows {
            html += "<p class=\"truncated\">\(Format.count(evs.count - Self.eventRows)) more events: <a href=\"\(HTML.attr("raw/response"))\">the raw stream</a> has them all.</p>"
        }
        return html + "</details></section>"
    }

    /// The recorded moments, to scale.
    func timeline(_ evs: [Event]) -> String {
        let total = summary.latencyMs ?? 0
        guard total > 0 else { return "<p class=\"meta\">No timings recorded.</p>" }
        let w = 760.0, left = 20.0, y = 34.0
        func x(_ ms: Double) -> Double { left + (w - 2 * left) * min(1, max(0, ms / total)) }
        var svg = "<svg class=\"timeline\" viewBox=\"0 0 \(Int(w)) 70\" width=\"100%\" role=\"img\" aria-label=\"stream timeline\">"
        svg += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(w - left)\" y2=\"\(y)\" class=\"axis\"/>"
        if let ttft = summary.ttftMs {
            svg += "<rect x=\"\(Format.fixed(x(ttft), 1))\" y=\"\(y - 6)\" width=\"\(Format.fixed(max(1, x(total) - x(ttft)), 1))\" height=\"12\" class=\"gen\"><title>generating: \(Format.ms(total - ttft))</title></rect>"
        }
        var marks: [(String, Double)] = [("sent", 0)]
        if let ttfb = summary.ttfbMs { marks.append(("first byte", ttfb)) }
        if let ttft = summary.ttftMs { marks.append(("TTFT", ttft)) }
        marks.append(("end", total))
        for (i, (label, ms)) in marks.enumerated() {
            let px = x(ms)
            let above = i % 2 == 0
            svg += "<line x1=\"\(Format.fixed(px, 1))\" y1=\"\(y - 12)\" x2=\"\(Format.fixed(px, 1))\" y2=\"\(y + 12)\" class=\"mark\"/>"
            let anchor = i == 0 ? "start" : i == marks.count - 1 ? "end" : "middle"
            svg += "<text x=\"\(Format.fixed(px, 1))\" y=\"\(above ? y - 16 : y + 26)\" text-anchor=\"\(anchor)\" class=\"lbl\">\(HTML.text(label)) \(HTML.text(Format.ms(ms)))</text>"
        }
        svg += "</svg>"
        let ttft = summary.ttftMs.map { "<b id=\"ttft\">TTFT \(Format.ms($0))</b> · " } ?? ""
        return "<p>\(ttft)first byte \(Format.ms(summary.ttfbMs)) · total \(Format.ms(total)) · \(Format.count(evs.count)) events</p>" + svg
    }

    /// Cumulative output characters by event number (the shape of the stream: stalls, bursts, the reasoning part).
    func growth(_ evs: [Event]) -> String {
        guard let maxChars = evs.last?.outputChars, maxChars > 0, evs.count > 1 else { return "" }
        let w = 760.0, h = 90.0, pad = 20.0
        let n = Double(evs.count - 1)
        var points = ""
        let step = max(1, evs.count / 600)
        for (i, e) in evs.enumerated() where i % step == 0 || i == evs.count - 1 {
            let px = pad + (w - 2 * pad) * Double(i) / n
            let py = h - pad - (h - 2 * pad) * Double(e.outputChars) / Double(maxChars)
            points += Format.fixed(px, 1) + "," + Format.fixed(py, 1) + " "
        }
        return "<svg class=\"growth\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"100%\" role=\"img\" aria-label=\"output growth\">"
            + "<polyline points=\"\(points)\" class=\"line\"/>"
            + "<text x=\"\(pad)\" y=\"12\" class=\"lbl\">output characters by event: \(Format.count(maxChars)) in \(Format.count(evs.count)) events</text></svg>"
    }
}
