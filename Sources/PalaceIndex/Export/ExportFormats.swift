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
    /// The line, written field by field into one buffer; bodies are copied from their bytes (`RedactedJSON`),
    /// the same text a `JSONObject` of the fields would serialise to.
    public static func line(_ s: ExchangeSummary, _ ex: LoadedExchange, redactor: Redactor) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ex.requestBody.count + ex.responseBody.count + 2048)
        append(s, ex, redactor: redactor, to: &out)
        return out
    }

    /// `line`, appended to `out` (a batch of lines in one buffer).
    static func append(_ s: ExchangeSummary, _ ex: LoadedExchange, redactor: Redactor, to out: inout [UInt8]) {
        var w = JSONText(capacity: 0)
        swap(&w.out, &out)
        defer { swap(&w.out, &out) }
        w.raw("{\"id\":"); w.int(s.id)
        w.raw(",\"requested_at\":"); w.string(ExportTime.iso(s.startedAt))
        w.raw(",\"state\":"); w.string(s.state)
        w.raw(",\"method\":"); w.string(s.method)
        w.raw(",\"url\":"); w.string(redactor.text(CaseExport.url(s)))
        w.raw(",\"status\":"); w.int(s.status)
        w.raw(",\"model\":"); w.string(s.model)
        w.raw(",\"stream\":"); w.raw(s.stream ? "true" : "false")
        w.raw(",\"chatcmpl\":"); w.string(s.chatcmpl)
        w.raw(",\"request_id\":"); w.string(s.requestID)
        w.raw(",\"usage\":")
        if let p = s.promptTokens {
            w.raw("{\"prompt_tokens\":"); w.int(p)
            w.raw(",\"completion_tokens\":"); w.int(s.completionTokens ?? 0)
            w.raw(",\"total_tokens\":"); w.int(s.totalTokens ?? 0)
            w.raw(",\"cached_tokens\":"); w.int(s.cachedTokens ?? 0)
            w.raw("}")
        } else { w.raw("null") }
        w.raw(",\"finish_reason\":"); w.string(s.finishReason)
        w.raw(",\"latency_ms\":"); w.value(num(s.latencyMs))
        w.raw(",\"ttft_ms\":"); w.value(num(s.ttftMs))
        w.raw(",\"category\":"); w.string(s.category)
        w.raw(",\"tags\":[")
        for (i, t) in s.tags.enumerated() { if i > 0 { w.raw(",") }; w.string(t) }
        w.raw("]")
        w.raw(",\"error\":")
        if let step = s.errorStep ?? (s.error != nil ? "" : nil) {
            w.raw("{\"step\":"); w.string(step)
            w.raw(",\"message\":"); w.string(redactor.text(s.error ?? "")); w.raw("}")
        } else { w.raw("null") }
        // A repeated meta key keeps its first position and its last value (as a JSON object member would).
        var meta: [(String, String)] = []
        for f in ex.begin.meta where f.name == "moonpalace_id" || f.name == "replay_of" {
            if let i = meta.firstIndex(where: { $0.0 == f.name }) { meta[i].1 = f.value } else { meta.append((f.name, f.value)) }
        }
        for (k, v) in meta { w.raw(","); w.string(k); w.raw(":"); w.string(v) }
        w.raw(",\"request\":{\"headers\":"); w.redactedHeaderObject(ex.begin.requestHeaders, redactor)
        w.raw(",\"body\":"); CaseExport.appendBody(ex.requestBody, redactor, to: &w.out)
        w.raw("},\"response\":{\"status\":"); w.int(s.status)
        w.raw(",\"headers\":"); w.redactedHeaderObject(ex.end?.responseHeaders ?? [], redactor)
        w.raw(",\"body\":"); CaseExport.appendBody(ex.responseBody, redactor, to: &w.out)
        w.raw("},\"merged\":")
        if ex.isStream, !ex.responseBody.isEmpty || ex.end?.mergedCompletion != nil {
            let merged = ex.mergedResponseBody
            if merged.isEmpty { w.raw("null") } else { CaseExport.appendBody(merged, redactor, to: &w.out) }
        } else {
            w.raw("null")
        }
        w.raw("}\n")
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

    /// One entry, written field by field into one buffer (the text a `JSONObject` of the fields would serialise
    /// to); body text is masked as bytes and escaped once.
    public static func entry(_ s: ExchangeSummary, _ ex: LoadedExchange, redactor: Redactor) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(2 * (ex.requestBody.count + ex.responseBody.count) + 2048)
        append(s, ex, redactor: redactor, to: &out)
        return out
    }

    /// `entry`, appended to `out` (a group of entries in one buffer).
    static func append(_ s: ExchangeSummary, _ ex: LoadedExchange, redactor: Redactor, to out: inout [UInt8]) {
        let total = max(0, s.latencyMs ?? 0)
        let wait = min(total, max(0, s.ttfbMs ?? total))
        var w = JSONText(capacity: 0)
        swap(&w.out, &out)
        defer { swap(&w.out, &out) }
        w.raw("{\"startedDateTime\":"); w.string(ExportTime.iso(s.startedAt))
        w.raw(",\"time\":"); w.value(ms(total))
        w.raw(",\"request\":{\"method\":"); w.string(s.method)
        w.raw(",\"url\":"); w.string(redactor.text(CaseExport.url(s)))
        w.raw(",\"httpVersion\":\"HTTP/1.1\",\"cookies\":[],\"headers\":"); w.headerPairs(redactor.headers(ex.begin.requestHeaders))
        w.raw(",\"queryString\":"); queryString(s.query, redactor, &w)
        if !ex.requestBody.isEmpty {
            w.raw(",\"postData\":{\"mimeType\":"); w.string(contentType(ex.begin.requestHeaders))
            w.raw(",\"text\":")
            if bodyText(ex.requestBody, redactor, &w) { w.raw(",\"_encoding\":\"base64\"") }
            w.raw("}")
        }
        w.raw(",\"headersSize\":-1,\"bodySize\":"); w.int(ex.requestBody.count)
        w.raw("},\"response\":{\"status\":")
        let status = s.status ?? 0
        w.int(status)
        w.raw(",\"statusText\":"); w.string(status == 0 ? "" : HTTPReason.phrase(status))
        w.raw(",\"httpVersion\":\"HTTP/1.1\",\"cookies\":[],\"headers\":")
        let respHeaders = ex.end?.responseHeaders ?? []
        w.headerPairs(redactor.headers(respHeaders))
        w.raw(",\"content\":{\"size\":"); w.int(ex.responseBody.count)
        w.raw(",\"mimeType\":"); w.string(contentType(respHeaders))
        if !ex.responseBody.isEmpty {
            w.raw(",\"text\":")
            if bodyText(ex.responseBody, redactor, &w) { w.raw(",\"encoding\":\"base64\"") }
        }
        w.raw("},\"redirectURL\":\"\",\"headersSize\":-1,\"bodySize\":"); w.int(ex.responseBody.count)
        if s.error != nil || s.errorStep != nil || status == 0 {
            let msg = [s.errorStep, s.error].compactMap { $0 }.joined(separator: ": ")
            w.raw(",\"_error\":")
            w.string(redactor.text(msg.isEmpty ? (s.state == "complete" ? "no response" : s.state) : msg))
        }
        if ex.isStream && !ex.responseBody.isEmpty {
            // The parser's allocation-free reading: each event's data is escaped (and checked, masked) from its
            // bytes in one pass instead of becoming a String first.
            var parser = SSEParser()
            parser.append(ex.responseBody)
            w.raw(",\"_sseEvents\":[")
            var first = true
            func event(_ name: String?, _ id: String?, _ data: UnsafeBufferPointer<UInt8>) {
                w.raw(first ? "{" : ",{")
                first = false
                if let name { w.raw("\"event\":"); w.string(name); w.raw(",") }
                if let id { w.raw("\"id\":"); w.string(id); w.raw(",") }
                w.raw("\"data\":")
                if !JSONText.appendTextIfValid(data, redactor, to: &w.out) {
                    w.string(redactor.text(String(decoding: data, as: UTF8.self)))
                }
                w.raw("}")
            }
            while let found = parser.next() {
                guard found.hasData else { continue }
                let (name, id) = (parser.lastEventName, parser.lastEventID)
                parser.withData { event(name, id, $0) }
            }
            if let last = parser.finish(), last.hasData {
                var data = last.data
                data.withUTF8 { event(last.event, last.id, $0) }
            }
            w.raw("]")
            let merged = ex.mergedResponseBody
            let mark = w.out.count
            w.raw(",\"_mergedCompletion\":")
            if !merged.withUnsafeBufferPointer({ RedactedJSON.append($0, redactor: redactor, to: &w.out) }) {
                if let v = try? JSONValue.parse(merged) { w.out.append(contentsOf: redactor.json(v).serializedBytes()) }
                else { w.out.removeSubrange(mark...) }
            }
        }
        w.raw("},\"cache\":{},\"timings\":{\"send\":0,\"wait\":"); w.value(ms(wait))
        w.raw(",\"receive\":"); w.value(ms(total - wait))
        w.raw("},\"_id\":"); w.int(s.id)
        var meta: [(String, String)] = []
        for f in ex.begin.meta where f.name == "moonpalace_id" || f.name == "replay_of" {
            if let i = meta.firstIndex(where: { $0.0 == f.name }) { meta[i].1 = f.value } else { meta.append((f.name, f.value)) }
        }
        for (k, v) in meta { w.raw(","); w.string("_" + k); w.raw(":"); w.string(v) }
        if let c = s.category { w.raw(",\"_category\":"); w.string(c) }
        if !s.tags.isEmpty {
            w.raw(",\"_tags\":[")
            for (i, t) in s.tags.enumerated() { if i > 0 { w.raw(",") }; w.string(t) }
            w.raw("]")
        }
        w.raw("}")
    }

    static func ms(_ d: Double) -> JSONValue {
        let r = (d * 1000).rounded() / 1000
        if r == r.rounded() { return .number(String(Int64(r))) }
        return .number(String(r))
    }

    static func queryString(_ query: String, _ redactor: Redactor, _ w: inout JSONText) {
        w.raw("[")
        for (i, item) in query.split(separator: "&").enumerated() {
            let kv = item.split(separator: "=", maxSplits: 1)
            w.raw(i == 0 ? "{\"name\":" : ",{\"name\":"); w.string(String(kv.first ?? ""))
            w.raw(",\"value\":"); w.string(redactor.text(kv.count > 1 ? String(kv[1]) : "")); w.raw("}")
        }
        w.raw("]")
    }

    static func contentType(_ hs: [HeaderField]) -> String {
        hs.first { $0.name.lowercased() == "content-type" }?.value ?? ""
    }

    /// Writes the body as a JSON string: UTF-8 text (redacted), or base64 when the bytes are not text (returns
    /// true then).
    static func bodyText(_ bytes: [UInt8], _ redactor: Redactor, _ w: inout JSONText) -> Bool {
        if JSONText.appendTextIfValid(bytes, redactor, to: &w.out) { return false }
        w.string(Base64.encode(bytes))
        return true
    }
}
