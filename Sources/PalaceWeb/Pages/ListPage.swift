import PalaceIndex

/// `/palace/`: newest first, filter form, predicate error at its column, search snippets, keyset paging.
struct ListPage {
    let layout: Layout
    let filter: ListFilter
    let rows: [ExchangeSummary]
    /// Snippets by id when the filter has a full-text part.
    let snippets: [Int64: String]
    let problem: ListFilter.Problem?
    let hasMore: Bool
    let now: Int64
    let downloads: Bool

    var prefix: String { layout.prefix }

    func render() -> String {
        let live = filter.before == nil && problem == nil
        return layout.page(title: "Exchanges", section: .exchanges, body: form() + problemBox() + table() + pager(),
                           live: live, liveQuery: filter.query(includeLimit: false))
    }

    func form() -> String {
        let statusOptions = ListFilter.statuses.map { v, label in
            "<option value=\"\(HTML.attr(v))\"\(filter.status == v ? " selected" : "")>\(HTML.text(label))</option>"
        }.joined()
        let stepOptions = ([""] + ListFilter.errorSteps).map { v in
            "<option value=\"\(HTML.attr(v))\"\(filter.errorStep == v ? " selected" : "")>\(v.isEmpty ? "any error step" : HTML.text(v))</option>"
        }.joined()
        let predicateInvalid: Bool = { if case .predicate(let e) = problem, e.source == filter.predicate { return true }; return false }()
        var downloadLinks = ""
        if downloads {
            let q = filter.query(includeLimit: false)
            downloadLinks = """
                <span class="downloads">Download this filter:
                <a href="\(HTML.attr(prefix))/export.har\(q.isEmpty ? "" : "?" + HTML.attr(q))" download>HAR</a>
                <a href="\(HTML.attr(prefix))/export.jsonl\(q.isEmpty ? "" : "?" + HTML.attr(q))" download>JSONL</a></span>
                """
        }
        return """
            <form class="filters panel" method="get" action="\(HTML.attr(prefix))/" id="filters">
            <div class="row">
            <label class="grow">Predicate <input type="text" name="p" id="predicate" class="mono\(predicateInvalid ? " invalid" : "")" value="\(HTML.attr(filter.predicate))" placeholder="status >= 400 &amp;&amp; model ~ 'kimi*'   ·   request_body.messages.0.role == 'system'" autocomplete="off" spellcheck="false"></label>
            <label>Search text <input type="search" name="q" value="\(HTML.attr(filter.text))" placeholder="words in prompts or answers"></label>
            </div>
            <div id="predicate-check" class="predicate-check" aria-live="polite"></div>
            <div class="row">
            <label>Model <input type="text" name="model" value="\(HTML.attr(filter.model))" placeholder="kimi-k2* or exact"></label>
            <label>Status <select name="status">\(statusOptions)</select></label>
            <label>Error <select name="step">\(stepOptions)</select></label>
            <label>Since <input type="text" name="since" value="\(HTML.attr(filter.since))" placeholder="2h, 3d, 2026-11-28"></label>
            <label>Until <input type="text" name="until" value="\(HTML.attr(filter.until))" placeholder="YYYY-MM-DD HH:MM"></label>
            <label class="check"><input type="checkbox" name="chat" value="1"\(filter.chatOnly ? " checked" : "")> chat only</label>
            <button type="submit">Apply</button>
            <a class="reset" href="\(HTML.attr(prefix))/">Reset</a>
            </div>
            \(downloadLinks)
            </form>
            """
    }

    func problemBox() -> String {
        switch problem {
        case nil: return ""
        case .field(_, let message)?:
            return "<div class=\"panel problem\" id=\"problem\"><strong>\(HTML.text(message))</strong></div>"
        case .predicate(let e)?:
            return "<div class=\"panel problem\" id=\"problem\">" + Self.predicateError(e) + "</div>"
        }
    }

    /// The message, then the predicate with the character at the error column marked and a caret under it.
    static func predicateError(_ e: PredicateError) -> String {
        let chars = Array(e.source)
        let i = max(0, min(chars.count, e.column - 1))
        let before = String(chars[..<i])
        let at = i < chars.count ? String(chars[i]) : " "
        let after = i < chars.count ? String(chars[(i + 1)...]) : ""
        let pad = String(repeating: " ", count: DisplayWidth.of(before))
        return """
            <div class="predicate-error" data-column="\(e.column)"><strong>predicate: \(HTML.text(e.message)) at column \(e.column)</strong>
            <pre class="caret">\(HTML.text(before))<mark>\(HTML.text(at))</mark>\(HTML.text(after))
            \(pad)^</pre></div>
            """
    }

    func table() -> String {
        if problem != nil { return "" }
        if rows.isEmpty {
            let msg = filter.isEmpty ? "No exchanges yet. Point an OpenAI-compatible SDK at the proxy and they appear here as they happen."
                : "No exchange matches this filter."
            return "<table class=\"list\" id=\"rows\"><thead>\(Self.header)</thead><tbody></tbody></table><p class=\"empty\" id=\"empty\">\(msg)</p>"
        }
        let body = rows.map { Self.row($0, prefix: prefix, now: now, snippet: snippets[$0.id], query: filter.text) }.joined()
        return "<table class=\"list\" id=\"rows\"><thead>\(Self.header)</thead><tbody>\(body)</tbody></table>"
    }

    static let header = "<tr><th>id</th><th>time</th><th>request</th><th>model</th><th>status</th><th>tokens</th>"
        + "<th>TTFT</th><th>latency</th><th>finish</th><th>marks</th></tr>"

    /// One table row (also sent over the live feed). A search hit gets a second row with its snippet.
    static func row(_ r: ExchangeSummary, prefix: String, now: Int64, snippet: String? = nil, query: String = "") -> String {
        let href = HTML.attr(prefix + "/x/\(r.id)")
        var cls = ["x"]
        if r.state == "in_flight" { cls.append("inflight") }
        if r.state == "incomplete" { cls.append("incomplete") }
        if r.hasError && r.state == "complete" { cls.append("err") }
        let path = r.path + (r.query.isEmpty ? "" : "?" + r.query)
        let tokens = r.totalTokens == nil ? "" : "\(Format.count(r.promptTokens ?? 0))+\(Format.count(r.completionTokens ?? 0))"
        var marks = ""
        if let c = r.category { marks += "<span class=\"cat \(c == "goodcase" ? "good" : "bad")\">\(c == "goodcase" ? "good" : c == "badcase" ? "bad" : HTML.text(c))</span>" }
        for t in r.tags { marks += "<span class=\"tag\">\(HTML.text(t))</span>" }
        var html = """
            <tr id="x\(r.id)" class="\(cls.joined(separator: " "))" data-id="\(r.id)"><td class="id"><a href="\(href)">\(r.id)</a></td>\
            <td class="time" title="\(HTML.attr(Format.localTime(r.startedAt)))">\(HTML.text(Format.shortTime(r.startedAt, now: now)))</td>\
            <td class="req"><a href="\(href)"><span class="method">\(HTML.text(r.method))</span> \(HTML.text(path))</a>\(r.stream ? " <span class=\"badge stream\" title=\"server-sent events\">stream</span>" : "")</td>\
            <td class="model">\(HTML.text(r.model ?? ""))</td><td class="status">\(statusBadge(r))</td>\
            <td class="num">\(tokens)</td><td class="num">\(r.ttftMs == nil ? "" : Format.ms(r.ttftMs))</td>\
            <td class="num">\(r.latencyMs == nil ? "" : Format.ms(r.latencyMs))</td>\
            <td>\(HTML.text(r.finishReason ?? ""))</td><td class="marks">\(marks)</td></tr>
            """
        if let snippet, !snippet.isEmpty {
            html += "<tr class=\"snippet\" data-for=\"\(r.id)\"><td></td><td colspan=\"9\">\(highlight(snippet, query: query))</td></tr>"
        }
        return html
    }

    static func statusBadge(_ r: ExchangeSummary) -> String {
        if r.state == "in_flight" { return "<span class=\"badge inflight\">in flight</span>" }
        if r.state == "incomplete" { return "<span class=\"badge incomplete\" title=\"the proxy stopped before the answer ended\">incomplete</span>" }
        var s = ""
        if let st = r.status, st > 0 {
            let kind = st >= 500 ? "s5" : st >= 400 ? "s4" : st >= 300 ? "s3" : "s2"
            s = "<span class=\"badge \(kind)\" title=\"\(HTML.attr(Format.reason(st)))\">\(st)</span>"
        }
        if let step = r.errorStep {
            s += " <span class=\"badge s5\" title=\"\(HTML.attr(r.error ?? step))\">\(HTML.text(step))</span>"
        } else if r.status == nil || r.status == 0 {
            s += "<span class=\"badge s5\">no response</span>"
        }
        return s
    }

    /// A search snippet (`…before [match] after…`) with the match in <mark>. The brackets PalaceIndex puts around
    /// the match are found by the query text itself, so brackets inside the text are shown as they are.
    static func highlight(_ snippet: String, query: String) -> String {
        let chars = Array(snippet), needle = Array(query.lowercased())
        if !needle.isEmpty && chars.count >= needle.count + 2 {
            for i in 0...(chars.count - needle.count - 2) where chars[i] == "[" && chars[i + needle.count + 1] == "]" {
                let inner = String(chars[(i + 1)...(i + needle.count)])
                if inner.lowercased() == String(needle) {
                    return HTML.text(String(chars[..<i])) + "<mark>" + HTML.text(inner) + "</mark>"
                        + HTML.text(String(chars[(i + needle.count + 2)...]))
                }
            }
        }
        return HTML.text(snippet)
    }

    func pager() -> String {
        if problem != nil { return "" }
        var links: [String] = []
        if filter.before != nil {
            let q = filter.query()
            links.append("<a href=\"\(HTML.attr(prefix))/\(q.isEmpty ? "" : "?" + HTML.attr(q))\">⇤ Newest</a>")
        }
        if hasMore, let last = rows.last {
            let q = filter.query(before: last.id)
            links.append("<a id=\"older\" href=\"\(HTML.attr(prefix))/?\(HTML.attr(q))\">Older →</a>")
        }
        return "<nav class=\"pager\">\(links.joined(separator: " "))</nav>"
    }
}
