import PalaceIndex
import PalaceLog
import PalaceWire

/// `/palace/x/{id}`: one exchange — conversation, stream timeline and merged completion, facts (timings, usage,
/// ids, failure step), the raw request and response with headers, and the actions (mark, tag, download, replay).
struct ExchangePage {
    let layout: Layout
    let summary: ExchangeSummary
    let exchange: LoadedExchange?
    let displayLimit: Int
    let messageLimit: Int
    let replay: ReplayButton
    let downloads: Bool
    let notice: String?
    /// The exchange this one replays (its begin meta says `replay_of`), for the comparison.
    let original: ExchangeSummary?

    enum ReplayButton { case available, unavailable(String) }

    var prefix: String { layout.prefix }
    var base: String { prefix + "/x/\(summary.id)" }
    /// Bodies above this size are not parsed for the conversation view (the raw views still show their start).
    static let parseLimit = 8 << 20

    func render() -> String {
        let s = summary
        var body = header()
        if let notice { body += "<div class=\"panel notice\" id=\"notice\">\(HTML.text(notice))</div>" }
        body += actions()
        if let original { body += comparison(original) }
        body += facts()
        if let ex = exchange {
            let requestJSON = Self.json(ex.requestBody)
            let merged = ex.isStream ? ex.mergedResponseBody : ex.responseBody
            let responseJSON = Self.json(merged)
            let conversation = Conversation(textLimit: messageLimit).render(request: requestJSON, response: responseJSON)
            if let conversation {
                body += "<section class=\"panel\"><h2>Conversation</h2>\(conversation)</section>"
            }
            if ex.isStream {
                body += StreamTimeline(summary: s, exchange: ex, displayLimit: displayLimit).render()
                if ex.end?.mergedCompletion != nil || !merged.isEmpty {
                    body += "<section class=\"panel\"><h2>Merged completion</h2>"
                        + bodyBlock(merged, kind: "merged", contentType: "application/json") + "</section>"
                }
            }
            body += rawRequest(ex)
            body += rawResponse(ex)
        } else {
            body += "<section class=\"panel\"><p class=\"warn\">The log no longer holds this exchange's records.</p></section>"
        }
        return layout.page(title: "#\(s.id) \(s.method) \(s.path)", section: .exchanges, body: body,
                           refreshSeconds: s.state == "in_flight" ? 2 : nil)
    }

    func header() -> String {
        let s = summary
        let url = (s.endpoint ?? "") + s.path + (s.query.isEmpty ? "" : "?" + s.query)
        return """
            <section class="xhead"><h1><span class="id">#\(s.id)</span> <span class="method">\(HTML.text(s.method))</span> \
            <span class="url">\(HTML.text(url))</span></h1>
            <div class="sub">\(ListPage.statusBadge(s)) \(s.stream ? "<span class=\"badge stream\">stream</span>" : "") \
            <span>\(HTML.text(s.model ?? ""))</span> · <time datetime="\(Format.isoUTC(s.startedAt))">\(Format.localTime(s.startedAt))</time>\
            \(marks())</div></section>
            """
    }

    func marks() -> String {
        var m = ""
        if let c = summary.category { m += " <span class=\"cat \(c == "goodcase" ? "good" : "bad")\">\(c == "goodcase" ? "good case" : c == "badcase" ? "bad case" : HTML.text(c))</span>" }
        for t in summary.tags { m += " <span class=\"tag\">\(HTML.text(t))</span>" }
        return m
    }

    func actions() -> String {
        let csrf = layout.csrfField
        let cat = summary.category
        func markButton(_ value: String, _ label: String, _ on: Bool) -> String {
            "<button type=\"submit\" name=\"category\" value=\"\(value)\" class=\"\(value)\(on ? " on" : "")\">\(label)</button>"
        }
        let tagForms = summary.tags.map { t in
            "<form method=\"post\" action=\"\(HTML.attr(base))/tags\" class=\"inline\">\(csrf)<input type=\"hidden\" name=\"remove\" value=\"\(HTML.attr(t))\">"
                + "<button type=\"submit\" class=\"tag-remove\" title=\"remove tag\">\(HTML.text(t)) ✕</button></form>"
        }.joined()
        var replayHTML: String
        switch replay {
        case .available:
            replayHTML = "<form method=\"post\" action=\"\(HTML.attr(base))/replay\" class=\"inline\" data-confirm=\"Send this request upstream again?\">\(csrf)<button type=\"submit\" id=\"replay\">Replay</button></form>"
        case .unavailable(let why):
            replayHTML = "<button type=\"button\" disabled title=\"\(HTML.attr(why))\">Replay</button>"
        }
        var downloadHTML = "<a href=\"\(HTML.attr(base))/raw/request\">raw request body</a> <a href=\"\(HTML.attr(base))/raw/response\">raw response body</a>"
        if downloads {
            downloadHTML = "<a href=\"\(HTML.attr(base))/case.json\" download>case JSON</a> <a href=\"\(HTML.attr(base))/curl\" download>curl</a> " + downloadHTML
        }
        if summary.state == "in_flight" { replayHTML = "" }
        return """
            <section class="panel actions">
            <form method="post" action="\(HTML.attr(base))/mark" class="inline">\(csrf)\
            \(markButton("good", "✓ good case", cat == "goodcase"))\(markButton("bad", "✗ bad case", cat == "badcase"))\
            \(cat != nil ? markButton("none", "clear", false) : "")</form>
            <span class="tags">\(tagForms)<form method="post" action="\(HTML.attr(base))/tags" class="inline">\(csrf)\
            <input type="text" name="add" placeholder="add tag" size="12" required pattern="[^,]+" title="a tag without commas"><button type="submit">Tag</button></form></span>
            \(replayHTML)
            <span class="downloads">\(downloadHTML)</span>
            </section>
            """
    }

    /// This replay beside its original: what changed.
    func comparison(_ o: ExchangeSummary) -> String {
        let s = summary
        func row(_ k: String, _ a: String, _ b: String) -> String {
            "<tr\(a == b ? "" : " class=\"changed\"")><th>\(HTML.text(k))</th><td>\(HTML.text(a))</td><td>\(HTML.text(b))</td></tr>"
        }
        func tokens(_ x: ExchangeSummary) -> String { x.totalTokens == nil ? "–" : "\(x.promptTokens ?? 0)+\(x.completionTokens ?? 0)" }
        return "<section class=\"panel\" id=\"replay-of\"><h2>Replay of <a href=\"\(HTML.attr(prefix))/x/\(o.id)\">#\(o.id)</a></h2>"
            + "<table class=\"compare\"><thead><tr><th></th><th>#\(o.id) (original)</th><th>#\(s.id) (replay)</th></tr></thead><tbody>"
            + row("status", o.status.map(String.init) ?? "–", s.status.map(String.init) ?? "–")
            + row("model", o.model ?? "–", s.model ?? "–")
            + row("finish reason", o.finishReason ?? "–", s.finishReason ?? "–")
            + row("tokens", tokens(o), tokens(s))
            + row("TTFT", Format.ms(o.ttftMs), Format.ms(s.ttftMs))
            + row("latency", Format.ms(o.latencyMs), Format.ms(s.latencyMs))
            + row("error", o.errorStep ?? "–", s.errorStep ?? "–")
            + "</tbody></table></section>"
    }

    func facts() -> String {
        let s = summary
        var rows: [(String, String)] = []
        func add(_ k: String, _ v: String?) { if let v, !v.isEmpty { rows.append((k, v)) } }
        add("state", s.state)
        add("TTFB", s.ttfbMs.map { Format.ms($0) })
        add("TTFT", s.ttftMs.map { Format.ms($0) })
        add("latency", s.latencyMs.map { Format.ms($0) })
        add("server timing", s.serverTiming.map { Format.ms($0) })
        add("TPOT", s.tpotMs.map { Format.fixed($0, 2) + " ms" })
        add("output tokens/s", s.otps.map { Format.fixed($0, 1) })
        if s.totalTokens != nil || s.promptTokens != nil {
            add("tokens", "prompt \(Format.count(s.promptTokens ?? 0)) · completion \(Format.count(s.completionTokens ?? 0)) · total \(Format.count(s.totalTokens ?? 0))"
                + (s.cachedTokens.map { $0 > 0 ? " · cached \(Format.count($0))" : "" } ?? ""))
        }
        add("finish reason", s.finishReason)
        add("chatcmpl", s.chatcmpl)
        add("request id", s.requestID)
        add("client request id", s.clientRequestID)
        add("user id", s.userID)
        add("group id", s.groupID)
        if let ex = exchange {
            let flags = ex.begin.flags.union(ex.end?.flags ?? [])
            var names: [String] = []
            if flags.contains(.forcedStream) { names.append("forced stream") }
            if flags.contains(.truncated) { names.append("truncated (finish_reason length)") }
            if flags.contains(.repeatCut) { names.append("cut for repeating") }
            if flags.contains(.cacheUsed) { names.append("context cache used") }
            if flags.contains(.imported) { names.append("imported") }
            if flags.contains(.gzipResponse) { names.append("gzip response") }
            add("flags", names.joined(separator: ", "))
            add("request body", Format.bytes(ex.requestBody.count))
            add("response body", Format.bytes(ex.responseBody.count))
            for m in ex.begin.meta { add(m.name, m.value) }
        }
        var html = "<section class=\"panel facts\"><h2>Facts</h2><dl>"
            + rows.map { "<dt>\(HTML.text($0.0))</dt><dd>\(HTML.text($0.1))</dd>" }.joined() + "</dl>"
        if let step = s.errorStep {
            html += "<div class=\"failure\" id=\"failure\"><strong>failed at step <code>\(HTML.text(step))</code></strong>"
                + "<p>\(HTML.text(s.error ?? ""))</p></div>"
        }
        if !s.warnings.isEmpty {
            html += "<ul class=\"warnings\">" + s.warnings.map { "<li>\(HTML.text($0))</li>" }.joined() + "</ul>"
        }
        return html + "</section>"
    }

    func rawRequest(_ ex: LoadedExchange) -> String {
        let line = "\(ex.begin.method) \(ex.begin.endpoint)\(ex.begin.target) HTTP/1.1"
        let ct = ex.begin.requestHeaders.first { $0.name.lowercased() == "content-type" }?.value
        return "<section class=\"panel raw\"><h2>Request</h2><pre class=\"headers\">\(HTML.text(line))\n"
            + HTML.text(LoadedExchange.headerText(ex.begin.requestHeaders).replacing("\r\n", with: "\n")) + "</pre>"
            + bodyBlock(ex.requestBody, kind: "request", contentType: ct) + "</section>"
    }

    func rawResponse(_ ex: LoadedExchange) -> String {
        guard let end = ex.end else {
            return "<section class=\"panel raw\"><h2>Response</h2><p class=\"warn\">"
                + (summary.state == "in_flight" ? "No response yet: the exchange is in flight." : "No end record: the proxy stopped before the answer ended.")
                + "</p>" + (ex.responseBody.isEmpty ? "" : bodyBlock(ex.responseBody, kind: "response", contentType: nil)) + "</section>"
        }
        let line = end.status > 0 ? "HTTP/1.1 \(end.status) \(Format.reason(end.status))" : "(no response)"
        let ct = end.responseHeaders.first { $0.name.lowercased() == "content-type" }?.value
        return "<section class=\"panel raw\"><h2>Response</h2><pre class=\"headers\">\(HTML.text(line))\n"
            + HTML.text(LoadedExchange.headerText(end.responseHeaders).replacing("\r\n", with: "\n")) + "</pre>"
            + bodyBlock(ex.responseBody, kind: "response", contentType: ct) + "</section>"
    }

    /// A body, pretty-printed when it is JSON, cut to `displayLimit` bytes with a link to all of it.
    func bodyBlock(_ bytes: [UInt8], kind: String, contentType: String?) -> String {
        if bytes.isEmpty { return "<p class=\"meta\">(empty body)</p>" }
        let rawLink = kind == "merged" ? "" : "\(base)/raw/\(kind)"
        if bytes.count <= displayLimit, let v = Self.json(bytes) {
            return "<pre class=\"body json\">\(HTML.text(v.serialized(pretty: true)))</pre>"
        }
        if !Self.looksTextual(bytes) {
            return "<p class=\"meta\">binary body, \(Format.bytes(bytes.count))"
                + (rawLink.isEmpty ? "" : " — <a href=\"\(HTML.attr(rawLink))\">download</a>") + "</p>"
        }
        let shown = Self.prefix(bytes, displayLimit)
        var html = "<pre class=\"body\">\(HTML.text(String(decoding: shown, as: UTF8.self)))</pre>"
        if shown.count < bytes.count {
            html += "<p class=\"truncated\">Showing the first \(Format.bytes(shown.count)) of \(Format.bytes(bytes.count)). "
                + (rawLink.isEmpty ? "" : "<a class=\"rawlink\" href=\"\(HTML.attr(rawLink))\">Open the whole body</a>") + "</p>"
        }
        return html
    }

    static func json(_ bytes: [UInt8]) -> JSONValue? {
        guard !bytes.isEmpty, bytes.count <= parseLimit else { return nil }
        let first = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
        guard first == UInt8(ascii: "{") || first == UInt8(ascii: "[") else { return nil }
        return try? JSONValue.parse(bytes)
    }

    /// At most `limit` bytes, ending on a UTF-8 character boundary.
    static func prefix(_ bytes: [UInt8], _ limit: Int) -> ArraySlice<UInt8> {
        guard bytes.count > limit else { return bytes[...] }
        var end = limit
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return bytes[..<end]
    }

    static func looksTextual(_ bytes: [UInt8]) -> Bool {
        let sample = bytes.prefix(4096)
        let control = sample.filter { $0 < 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }.count
        return control * 50 < max(sample.count, 1)
    }
}
