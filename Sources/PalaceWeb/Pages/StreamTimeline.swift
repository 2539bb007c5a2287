import PalaceIndex
import PalaceWire

/// For a streamed answer: the timeline (request sent → first byte → first token → last byte, to scale, from the
/// recorded timings), how the output grew over time, and the events themselves.
///
/// Since log format 1.2 the proxy records when each read of the stream arrived (`LoadedExchange.responseArrivals`),
/// so every event is drawn at the arrival of the read that completed it. Older records only have first byte, first
/// token and end: their events keep being placed by order, never at invented times, and the page says so.
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
        /// When the read that completed this event arrived, ms since the request was sent (nil: not recorded).
        var arrivedMs: Double?
    }

    /// Whether the events carry their recorded arrival times (false: placed by order, records before 1.2).
    func timed(_ evs: [Event]) -> Bool { !evs.isEmpty && evs.allSatisfy { $0.arrivedMs != nil } }

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
        let arrivals = exchange.responseArrivals
        var a = 0
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
            // The read holding the event's last byte completed it (events and reads both in body order).
            let last = UInt64(offset + e.raw.count)
            while a < arrivals.count && arrivals[a].endOffset < last { a += 1 }
            let arrived = a < arrivals.count ? Double(arrivals[a].micros) / 1000 : nil
            out.append(Event(index: i, offset: offset, size: e.raw.count, name: e.event, summary: text, outputChars: total,
                             isDone: e.isDone, arrivedMs: arrived))
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
        let timed = timed(evs)
        html += placement(evs, timed: timed)
        html += timeline(evs, timed: timed)
        html += growth(evs, timed: timed)
        html += "<details class=\"events\"\(evs.count <= 40 ? " open" : "")><summary>\(Format.count(evs.count)) events</summary><table class=\"events\">"
            + "<thead><tr><th>#</th>\(timed ? "<th>arrived</th><th>+gap</th>" : "")<th>byte</th><th>size</th><th>event</th><th>content</th></tr></thead><tbody>"
        var previous: Double?
        for e in evs.prefix(Self.eventRows) {
            var time = ""
            if timed, let at = e.arrivedMs {
                time = "<td class=\"num\">\(Format.fixed(at, 1)) ms</td><td class=\"num\">\(previous.map { "+" + Format.fixed(at - $0, 1) } ?? "")</td>"
                previous = at
            }
            html += "<tr\(e.isDone ? " class=\"done\"" : "")><td>\(e.index)</td>\(time)<td class=\"num\">\(e.offset)</td><td class=\"num\">\(e.size)</td>"
                + "<td>\(HTML.text(e.name ?? ""))</td><td class=\"evtext\">\(HTML.text(String(e.summary.prefix(400))))</td></tr>"
        }
        html += "</tbody></table>"
        if evs.count > Self.eventRows {
            html += "<p class=\"truncated\">\(Format.count(evs.count - Self.eventRows)) more events: <a href=\"\(HTML.attr("raw/response"))\">the raw stream</a> has them all.</p>"
        }
        return html + "</details></section>"
    }

    /// How the events are placed, in words: at their recorded arrival (with the longest stall), or by order.
    func placement(_ evs: [Event], timed: Bool) -> String {
        guard !evs.isEmpty else { return "" }
        guard timed else {
            return "<p class=\"placement meta\" id=\"placement\" data-placement=\"order\">Events placed by order: this record "
                + "has no arrival times (written before moonpalace log format 1.2), only first byte, first token and end.</p>"
        }
        var stall = (gap: 0.0, after: 0)
        for (prev, next) in zip(evs, evs.dropFirst()) {
            let gap = (next.arrivedMs ?? 0) - (prev.arrivedMs ?? 0)
            if gap > stall.gap { stall = (gap, prev.index) }
        }
        let first = evs.first?.arrivedMs ?? 0, last = evs.last?.arrivedMs ?? 0
        let longest = stall.gap > 0 ? " · longest gap \(Format.ms(stall.gap)) after event \(stall.after)" : ""
        return "<p class=\"placement meta\" id=\"placement\" data-placement=\"arrival\">Events at their recorded arrival times: "
            + "first \(Format.ms(first)), last \(Format.ms(last))\(longest).</p>"
    }

    /// The recorded moments to scale, and with arrival times a tick per event where it arrived.
    func timeline(_ evs: [Event], timed: Bool) -> String {
        let total = max(summary.latencyMs ?? 0, timed ? (evs.last?.arrivedMs ?? 0) : 0)
        guard total > 0 else { return "<p class=\"meta\">No timings recorded.</p>" }
        let w = 760.0, left = 20.0, y = 34.0
        func x(_ ms: Double) -> Double { left + (w - 2 * left) * min(1, max(0, ms / total)) }
        var svg = "<svg class=\"timeline\" viewBox=\"0 0 \(Int(w)) 70\" width=\"100%\" role=\"img\" aria-label=\"stream timeline\""
            + " data-placement=\"\(timed ? "arrival" : "order")\">"
        svg += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(w - left)\" y2=\"\(y)\" class=\"axis\"/>"
        if let ttft = summary.ttftMs {
            svg += "<rect x=\"\(Format.fixed(x(ttft), 1))\" y=\"\(y - 6)\" width=\"\(Format.fixed(max(1, x(total) - x(ttft)), 1))\" height=\"12\" class=\"gen\"><title>generating: \(Format.ms(total - ttft))</title></rect>"
        }
        if timed {
            // One tick per event (at most one per horizontal pixel: events closer than that share a tick).
            var lastPx = -1.0
            for e in evs {
                guard let at = e.arrivedMs else { continue }
                let px = (x(at) * 2).rounded() / 2
                if px == lastPx { continue }
                lastPx = px
                svg += "<line x1=\"\(Format.fixed(px, 1))\" y1=\"\(y - 5)\" x2=\"\(Format.fixed(px, 1))\" y2=\"\(y + 5)\" class=\"ev\"><title>event \(e.index) at \(Format.ms(at))</title></line>"
            }
        }
        var marks: [(String, Double)] = [("sent", 0)]
        if let ttfb = summary.ttfbMs { marks.append(("first byte", ttfb)) }
        if let ttft = summary.ttftMs { marks.append(("TTFT", ttft)) }
        marks.append(("end", total))
        // Marks closer than a label's width share one label ("sent 0 ms · first byte 2 ms · TTFT 24 ms").
        var groups: [(px: Double, text: String)] = []
        for (label, ms) in marks {
            let px = x(ms)
            svg += "<line x1=\"\(Format.fixed(px, 1))\" y1=\"\(y - 12)\" x2=\"\(Format.fixed(px, 1))\" y2=\"\(y + 12)\" class=\"mark\"/>"
            let text = label + " " + Format.ms(ms)
            if let last = groups.last, px - last.px < 110 { groups[groups.count - 1].text += " · " + text }
            else { groups.append((px, text)) }
        }
        for (i, g) in groups.enumerated() {
            let anchor = i == 0 ? "start" : i == groups.count - 1 ? "end" : "middle"
            let px = i == groups.count - 1 && i > 0 ? x(total) : g.px
            svg += "<text x=\"\(Format.fixed(px, 1))\" y=\"\(i % 2 == 0 ? y - 16 : y + 26)\" text-anchor=\"\(anchor)\" class=\"lbl\">\(HTML.text(g.text))</text>"
        }
        svg += "</svg>"
        let ttft = summary.ttftMs.map { "<b id=\"ttft\">TTFT \(Format.ms($0))</b> · " } ?? ""
        return "<p>\(ttft)first byte \(Format.ms(summary.ttfbMs)) · total \(Format.ms(total)) · \(Format.count(evs.count)) events</p>" + svg
    }

    /// Cumulative output characters over time (with arrival times) or by event number (without): the shape of the
    /// stream — stalls, bursts, the reasoning part.
    func growth(_ evs: [Event], timed: Bool) -> String {
        guard let maxChars = evs.last?.outputChars, maxChars > 0, evs.count > 1 else { return "" }
        let w = 760.0, h = 90.0, pad = 20.0
        let n = Double(evs.count - 1)
        let span = timed ? max(summary.latencyMs ?? 0, evs.last?.arrivedMs ?? 0) : 0
        var points = ""
        let step = max(1, evs.count / 600)
        for (i, e) in evs.enumerated() where i % step == 0 || i == evs.count - 1 {
            let fraction = timed && span > 0 ? (e.arrivedMs ?? 0) / span : Double(i) / n
            let px = pad + (w - 2 * pad) * min(1, max(0, fraction))
            let py = h - pad - (h - 2 * pad) * Double(e.outputChars) / Double(maxChars)
            points += Format.fixed(px, 1) + "," + Format.fixed(py, 1) + " "
        }
        let axis = timed ? "over time (0 – \(Format.ms(span)))" : "by event (placed by order)"
        return "<svg class=\"growth\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"100%\" role=\"img\" aria-label=\"output growth\">"
            + "<polyline points=\"\(points)\" class=\"line\"/>"
            + "<text x=\"\(pad)\" y=\"12\" class=\"lbl\">output characters \(axis): \(Format.count(maxChars)) in \(Format.count(evs.count)) events</text></svg>"
    }
}
