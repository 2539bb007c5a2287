import PalaceWire

/// Renders a chat-completion exchange as a conversation: the request's messages (system, user, assistant, tool),
/// then the answer's choices. Reasoning is collapsed, tool calls and their arguments are pretty JSON, text keeps
/// its line breaks and any script (Chinese included: UTF-8 throughout, no `\u` escapes).
struct Conversation {
    /// Characters of one message shown before it is cut (the raw body link has the rest).
    let textLimit: Int

    func render(request: JSONValue?, response: JSONValue?) -> String? {
        var parts: [String] = []
        if let messages = request?["messages"]?.arrayValue {
            for (i, m) in messages.enumerated() { parts.append(message(m, label: "#\(i)")) }
        }
        if let choices = response?["choices"]?.arrayValue, !choices.isEmpty {
            for (i, c) in choices.enumerated() {
                guard let m = c["message"] ?? c["delta"] else { continue }
                let finish = c["finish_reason"]?.stringValue
                let idx = c["index"]?.intValue ?? i
                parts.append(message(m, label: choices.count > 1 ? "choice \(idx)" : "answer", answer: true, finish: finish))
            }
        } else if let err = response?["error"] {
            parts.append("<div class=\"msg error\"><div class=\"role\">error</div><pre class=\"json\">\(HTML.text(err.serialized(pretty: true)))</pre></div>")
        }
        guard !parts.isEmpty else { return nil }
        var html = "<div class=\"conversation\">" + parts.joined() + "</div>"
        if let tools = request?["tools"]?.arrayValue, !tools.isEmpty {
            let names = tools.compactMap { $0["function"]?["name"]?.stringValue }.joined(separator: ", ")
            html += "<details class=\"tools\"><summary>\(tools.count) tool definition\(tools.count == 1 ? "" : "s"): \(HTML.text(names))</summary>"
                + "<pre class=\"json\">\(HTML.text(cut(JSONValue.array(tools).serialized(pretty: true))))</pre></details>"
        }
        return html
    }

    func message(_ m: JSONValue, label: String, answer: Bool = false, finish: String? = nil) -> String {
        let role = m["role"]?.stringValue ?? (answer ? "assistant" : "?")
        var body = ""
        if let r = m["reasoning_content"]?.stringValue, !r.isEmpty {
            body += "<details class=\"reasoning\"><summary>reasoning (\(Format.count(r.count)) characters)</summary>"
                + "<div class=\"text\">\(HTML.text(cut(r)))</div></details>"
        }
        // A tool's result is usually JSON: shown formatted, like the call's arguments.
        if role == "tool", let text = m["content"]?.stringValue, text.first == "{" || text.first == "[",
           let parsed = try? JSONValue.parse(text) {
            body += "<pre class=\"json\">\(HTML.text(cut(parsed.serialized(pretty: true))))</pre>"
        } else {
            body += content(m["content"])
        }
        if let calls = m["tool_calls"]?.arrayValue {
            for call in calls { body += toolCall(call) }
        }
        var meta: [String] = []
        if let name = m["name"]?.stringValue { meta.append("name: " + HTML.text(name)) }
        if let id = m["tool_call_id"]?.stringValue { meta.append("for call <code>\(HTML.text(id))</code>") }
        if m["partial"]?.boolValue == true { meta.append("partial (prefix)") }
        if let finish { meta.append("finish_reason: <b>\(HTML.text(finish))</b>") }
        let metaHTML = meta.isEmpty ? "" : "<span class=\"meta\">" + meta.joined(separator: " · ") + "</span>"
        let cls = ["system", "user", "assistant", "tool"].contains(role) ? role : "other"
        return "<div class=\"msg \(cls)\(answer ? " answer" : "")\"><div class=\"role\">\(HTML.text(role)) <span class=\"label\">\(HTML.text(label))</span>\(metaHTML)</div>\(body)</div>"
    }

    func content(_ c: JSONValue?) -> String {
        switch c {
        case .string(let s)?:
            return s.isEmpty ? "" : "<div class=\"text\">\(HTML.text(cut(s)))</div>"
        case .array(let items)?:
            return items.map { item -> String in
                let type = item["type"]?.stringValue ?? ""
                if type == "text", let t = item["text"]?.stringValue { return "<div class=\"text\">\(HTML.text(cut(t)))</div>" }
                if type == "image_url", let url = item["image_url"]?["url"]?.stringValue ?? item["image_url"]?.stringValue {
                    let shown = url.hasPrefix("data:") ? "inline image (\(Format.bytes(url.utf8.count)) data URL)" : url
                    return "<div class=\"part\">image: \(HTML.text(String(shown.prefix(300))))</div>"
                }
                return "<pre class=\"json part\">\(HTML.text(cut(item.serialized(pretty: true))))</pre>"
            }.joined()
        case nil, .null?:
            return ""
        case let other?:
            return "<pre class=\"json\">\(HTML.text(cut(other.serialized(pretty: true))))</pre>"
        }
    }

    func toolCall(_ call: JSONValue) -> String {
        let name = call["function"]?["name"]?.stringValue ?? call["type"]?.stringValue ?? "tool"
        let id = call["id"]?.stringValue
        var args = call["function"]?["arguments"]?.stringValue ?? ""
        var note = ""
        if let parsed = try? JSONValue.parse(args) {
            args = parsed.serialized(pretty: true)
        } else if !args.isEmpty {
            note = " <span class=\"warn\">arguments are not valid JSON</span>"
        }
        return "<div class=\"toolcall\"><div class=\"fn\">→ <code>\(HTML.text(name))</code>"
            + (id.map { " <span class=\"meta\">\(HTML.text($0))</span>" } ?? "") + note + "</div>"
            + "<pre class=\"json\">\(HTML.text(cut(args)))</pre></div>"
    }

    func cut(_ s: String) -> String {
        guard s.count > textLimit else { return s }
        return String(s.prefix(textLimit)) + "\n… (\(Format.count(s.count - textLimit)) more characters: see the raw body)"
    }
}
