import PalaceLog
import PalaceWire

/// The batch export formats (`export --format`).
public enum ExportFormat: String, CaseIterable, Sendable {
    /// A directory of MoonPalace case files (one `CaseExport.caseJSON` per exchange).
    case json
    /// One JSON object per line per exchange (`JSONLFormat`).
    case jsonl
    /// One HAR 1.2 file (`HARFormat`).
    case har
    /// Chat-format JSON Lines `{"messages": [...]}` for evaluation / fine-tuning sets (`OpenAIChatFormat`).
    case openaiChat = "openai-chat"

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// `export --format jsonl`: one line per exchange with everything a script needs:
/// `id, requested_at (ISO 8601 UTC), state, method, url, status, model, stream, chatcmpl, request_id, usage,
/// finish_reason, latency_ms, ttft_ms, category, tags, error {step, message}, request {headers, body},
/// response {headers, body}, merged` (the merged chat.completion of a stream; null otherwise). Headers are an
/// object (repeated names joined with ", "); bodies are JSON when they are JSON, else strings.
public enum JSONLFormat {
    public static func line(_ s: ExchangeSummary, _ ex: LoadedExchange, redactor: Redactor) -> [UInt8] {
        var o = JSONObject()
        o.set("id", .number(String(s.id)))
        o.set("requested_at", .string(ExportTime.iso(s.startedAt)))
        o.set("state", .string(s.state))
        o.set("method", .string(s.method))
        o.set("url", .string(redactor.text(CaseExport.url(s))))
        o.set("status", s.status.map { .number(String($0)) } ?? .null)
        o.set("model", str(s.model))
        o.set("stream", .bool(s.stream))
        o.set("chatcmpl", str(s.chatcmpl))
        o.set("request_id", str(s.requestID))
        if let p = s.promptTokens {
            o.set("usage", .object(JSONObject([
                ("prompt_tokens", .number(String(p))), ("completion_tokens", .number(String(s.completionTokens ?? 0))),
                ("total_tokens", .number(String(s.totalTokens ?? 0))), ("cached_tokens", .number(String(s.cachedTokens ?? 0))),
            ])))
        } else { o.set("usage", .null) }
        o.set("finish_reason", str(s.finishReason))
        o.set("latency_ms", num(s.latencyMs))
        o.set("ttft_ms", num(s.ttftMs))
        o.set("category", str(s.category))
        o.set("tags", .array(s.tags.map(JSONValue.string)))
        if let step = s.errorStep ?? (s.error != nil ? "" : nil) {
            o.set("error", .object(JSONObject([("step", .string(step)), ("message", .string(redactor.text(s.error ?? "")))])))
        } else { o.set("error", .null) }
        for f in ex.begin.meta where ["moonpalace_id", "replay_of"].contains(f.name) { o.set(f.name, .string(f.value)) }
        o.set("request", .object(JSONObject([
            ("headers", headers(redactor.headers(ex.begin.requestHeaders))),
            ("body", CaseExport.body(ex.requestBody, redactor)),
        ])))
        o.set("response", .object(JSONObject([
            ("status", s.status.map { .number(String($0)) } ?? .null),
            ("headers", headers(redactor.headers(ex.end?.responseHeaders ?? []))),
            ("body", CaseExport.body(ex.responseBody, redactor)),
        ])))
        if ex.isStream, !ex.responseBody.isEmpty || ex.end?.mergedCompletion != nil {
            let merged = ex.mergedResponseBody
            o.set("merged", merged.isEmpty ? .null : CaseExport.body(merged, redactor))
        } else {
            o.set("merged", .null)
        }
        var bytes = JSONValue.object(o).serializedBytes()
        bytes.append(0x0A)
        return bytes
    }

    static func headers(_ hs: [HeaderField]) -> JSONValue {
        var o = JSONObject()
        for h in hs {
            if case .string(let prev)? = o[h.name] { o.set(h.name, .string(prev + ", " + h.value)) }
            else { o.set(h.name, .string(h.value)) }
        }
        return .object(o)
    }

    static func str(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }

    static func num(_ d: Double?) -> JSONValue {
        guard let d else { return .null }
        if d == d.rounded() && abs(d) < 1e15 { return .number(String(Int64(d))) }
        return .number(String((d * 1000).rounded() / 1000))
    }
}

/// `export --format openai-chat`: for a chat completion that got an answer, one line
/// `{"messages": [...the request's messages..., {"role": "assistant", "content": …, "tool_calls"?: […]}], "tools"?: […]}`.
/// Other exchanges (errors, other endpoints, no answer) yield nil and are counted as skipped.
public enum OpenAIChatFormat {
    public static func line(_ s: ExchangeSummary, _ ex: LoadedExchange, redactor: Redactor) -> [UInt8]? {
        guard s.isChat, s.status == 200, let request = try? JSONValue.parse(ex.requestBody),
              case .array(let messages)? = request["messages"] else { return nil }
        let response: JSONValue
        if ex.isStream {
            let merged = ex.mergedResponseBody
            guard let v = try? JSONValue.parse(merged) else { return nil }
            response = v
        } else {
            guard let v = try? JSONValue.parse(ex.responseBody) else { return nil }
            response = v
        }
        guard let choice = response["choices"]?[0], let message = choice["message"] ?? choice["delta"] else { return nil }
        var answer = JSONObject([("role", .string("assistant"))])
        let content = message["content"] ?? .null
        answer.set("content", content.isNull ? .string("") : content)
        if case .array(let calls)? = message["tool_calls"], !calls.isEmpty {
            answer.set("tool_calls", .array(calls.map { call in
                guard case .object(var c) = call else { return call }
                c.removeValue(forKey: "index")
                return .object(c)
            }))
        }
        if (content.stringValue ?? "").isEmpty && answer["tool_calls"] == nil { return nil }
        var o = JSONObject([("messages", .array(messages + [.object(answer)]))])
        if let tools = request["tools"], !tools.isNull { o.set("tools", tools) }
        var bytes = redactor.json(.object(o)).serializedBytes()
        bytes.append(0x0A)
        return bytes
    }
}

/// `export --format har`: HAR 1.2 (`log.entries[]`). Bodies are in `postData.text` / `content.text` (base64 with
/// `encoding` when not UTF-8); a network failure is `status: 0` with `_error` ("step: message"); a stream keeps its
/// raw event text in `content.text` plus `_sseEvents` (each `{event?, id?, data}`) and `_mergedCompletion`.
/// `timings`: send 0, wait = time to the response head, receive = the rest; `time` is their sum.
/// Extra fields start with `_` as the spec requires: `_id`, `_moonpalace_id`, `_replay_of`, `_category`, `_tags`.
public enum HARFormat {
    public static func header(version: String) -> [UInt8] {
        Array(("{\"log\":{\"version\":\"1.2\",\"creator\":{\"name\":\"moonpalace\",\"version\":"
            + JSONValue.string(version).serialized() + "},\"pages\":[],\"entries\":[\n").utf8)
    }

    public static let footer: [UInt8] = Array("\n]}}\n".utf8)
    public static let separator: [UInt8] = Array(",\n".utf8)

    public static func entry(_ s: ExchangeSummary, _ ex: LoadedExchange, redactor: Redactor) -> [UInt8] {
        let url = redactor.text(CaseExport.url(s))
        let total = max(0, s.latencyMs ?? 0)
        let wait = min(total, max(0, s.ttfbMs ?? total))
        var request = JSONObject()
        request.set("method", .string(s.method))
        request.set("url", .string(url))
        request.set("httpVersion", .string("HTTP/1.1"))
        request.set("cookies", .array([]))
        request.set("headers", pairs(redactor.headers(ex.begin.requestHeaders)))
        request.set("queryString", queryString(s.query, redactor))
        if !ex.requestBody.isEmpty {
            var post = JSONObject([("mimeType", .string(contentType(ex.begin.requestHeaders)))])
            let (text, b64) = bodyText(ex.requestBody, redactor)
            post.set("text", .string(text))
            if b64 { post.set("_encoding", .string("base64")) }
            request.set("postData", .object(post))
        }
        request.set("headersSize", .number("-1"))
        request.set("bodySize", .number(String(ex.requestBody.count)))

        var response = JSONObject()
        let status = s.status ?? 0
        response.set("status", .number(String(status)))
        response.set("statusText", .string(status == 0 ? "" : HTTPReason.phrase(status)))
        response.set("httpVersion", .string("HTTP/1.1"))
        response.set("cookies", .array([]))
        let respHeaders = ex.end?.responseHeaders ?? []
        response.set("headers", pairs(redactor.headers(respHeaders)))
        var content = JSONObject([("size", .number(String(ex.responseBody.count))),
                                  ("mimeType", .string(contentType(respHeaders)))])
        if !ex.responseBody.isEmpty {
            let (text, b64) = bodyText(ex.responseBody, redactor)
            content.set("text", .string(text))
            if b64 { content.set("encoding", .string("base64")) }
        }
        response.set("content", .object(content))
        response.set("redirectURL", .string(""))
        response.set("headersSize", .number("-1"))
        response.set("bodySize", .number(String(ex.responseBody.count)))
        if s.error != nil || s.errorStep != nil || status == 0 {
            let msg = [s.errorStep, s.error].compactMap { $0 }.joined(separator: ": ")
            response.set("_error", .string(redactor.text(msg.isEmpty ? (s.state == "complete" ? "no response" : s.state) : msg)))
        }
        if ex.isStream && !ex.responseBody.isEmpty {
            var parser = SSEParser()
            var events = parser.feed(ex.responseBody)
            if let last = parser.finish() { events.append(last) }
            response.set("_sseEvents", .array(events.filter(\.hasData).map { e in
                var o = JSONObject()
                if let name = e.event { o.set("event", .string(name)) }
                if let id = e.id { o.set("id", .string(id)) }
                o.set("data", .string(redactor.text(e.data)))
                return .object(o)
            }))
            let merged = ex.mergedResponseBody
            if let v = try? JSONValue.parse(merged) { response.set("_mergedCompletion", redactor.json(v)) }
        }

        var e = JSONObject()
        e.set("startedDateTime", .string(ExportTime.iso(s.startedAt)))
        e.set("time", ms(total))
        e.set("request", .object(request))
        e.set("response", .object(response))
        e.set("cache", .object(JSONObject()))
        e.set("timings", .object(JSONObject([("send", .number("0")), ("wait", ms(wait)), ("receive", ms(total - wait))])))
        e.set("_id", .number(String(s.id)))
        for f in ex.begin.meta where ["moonpalace_id", "replay_of"].contains(f.name) { e.set("_" + f.name, .string(f.value)) }
        if let c = s.category { e.set("_category", .string(c)) }
        if !s.tags.isEmpty { e.set("_tags", .array(s.tags.map(JSONValue.string))) }
        return JSONValue.object(e).serializedBytes()
    }

    static func ms(_ d: Double) -> JSONValue {
        let r = (d * 1000).rounded() / 1000
        if r == r.rounded() { return .number(String(Int64(r))) }
        return .number(String(r))
    }

    static func pairs(_ hs: [HeaderField]) -> JSONValue {
        .array(hs.map { .object(JSONObject([("name", .string($0.name)), ("value", .string($0.value))])) })
    }

    static func queryString(_ query: String, _ redactor: Redactor) -> JSONValue {
        guard !query.isEmpty else { return .array([]) }
        return .array(query.split(separator: "&").map { item in
            let kv = item.split(separator: "=", maxSplits: 1)
            return .object(JSONObject([("name", .string(String(kv.first ?? ""))),
                                       ("value", .string(redactor.text(kv.count > 1 ? String(kv[1]) : "")))]))
        })
    }

    static func contentType(_ hs: [HeaderField]) -> String {
        hs.first { $0.name.lowercased() == "content-type" }?.value ?? ""
    }

    /// UTF-8 text (redacted), or base64 when the bytes are not text.
    static func bodyText(_ bytes: [UInt8], _ redactor: Redactor) -> (String, Bool) {
        if let s = String(validating: bytes, as: UTF8.self) { return (redactor.text(s), false) }
        return (Base64.encode(bytes), true)
    }
}
