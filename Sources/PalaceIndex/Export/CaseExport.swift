import PalaceLog
import PalaceWire

/// MoonPalace's case file (reference §12.3), used by `export`, `list --export`, `export --format json` and the web
/// admin's "download case":
///
/// ```json
/// {"metadata": {…strings, keys sorted…}, "request": {"url", "header", "body"},
///  "response": {"status", "header", "body"}, "error"?, "category"?, "tags"?}
/// ```
/// 4-space indentation and a trailing newline; `body` is the body's JSON when it is JSON, else a string (`""` when
/// empty). Stream bodies are the raw event text (`export`) or the merged completion (`list --export`).
public enum CaseExport {
    /// Begin-record meta keys shown in an exchange's metadata (FORMAT.md, begin field 11): an imported row's own
    /// `moonpalace_id` / `requested_at` / `imported_from`, a replay's `replay_of`.
    public static let shownMetaKeys: Set<String> = ["moonpalace_id", "requested_at", "replay_of", "imported_from"]

    public enum StreamBody: Sendable { case raw, merged }

    /// The case file's bytes. `escapeHTML` writes `<`, `>`, `&` as `\u003c`… (MoonPalace's `--escape-html`).
    public static func caseJSON(_ s: ExchangeSummary, _ ex: LoadedExchange, redactor: Redactor,
                                streamBody: StreamBody = .raw, escapeHTML: Bool = false) -> [UInt8] {
        var text = caseValue(s, ex, redactor: redactor, streamBody: streamBody).serialized(pretty: true, indent: 4)
        if escapeHTML { text = escapingHTML(text) }
        return Array((text + "\n").utf8)
    }

    public static func caseValue(_ s: ExchangeSummary, _ ex: LoadedExchange, redactor: Redactor,
                                 streamBody: StreamBody = .raw) -> JSONValue {
        let responseBody = streamBody == .merged ? ex.mergedResponseBody : ex.responseBody
        var o = JSONObject()
        o.set("metadata", metadata(s, ex))
        o.set("request", .object(JSONObject([
            ("url", .string(redactor.text(url(s)))),
            ("header", .string(headerText(redactor.headers(ex.begin.requestHeaders)))),
            ("body", body(ex.requestBody, redactor)),
        ])))
        o.set("response", .object(JSONObject([
            ("status", .string(s.status.map { "\($0) \(HTTPReason.phrase($0))" } ?? "")),
            ("header", .string(headerText(redactor.headers(ex.end?.responseHeaders ?? [])))),
            ("body", body(responseBody, redactor)),
        ])))
        if let e = s.error, !e.isEmpty { o.set("error", .string(redactor.text(e))) }
        if let c = s.category, !c.isEmpty { o.set("category", .string(c)) }
        if !s.tags.isEmpty { o.set("tags", .array(s.tags.map(JSONValue.string))) }
        return .object(o)
    }

    /// MoonPalace's metadata object (§12.2: values are strings, keys sorted), plus ours (model, tokens, finish
    /// reason, state). Imported exchanges show the MoonPalace row's own `moonpalace_id` and `requested_at`
    /// (and ours as `id`); a replay shows `replay_of`.
    public static func metadata(_ s: ExchangeSummary, _ ex: LoadedExchange?) -> JSONValue {
        var m: [String: String] = ["moonpalace_id": String(s.id), "requested_at": ExportTime.local(s.startedAt)]
        func add(_ k: String, _ v: String?) { if let v, !v.isEmpty { m[k] = v } }
        if s.isChat { m["chatcmpl"] = s.chatcmpl ?? "" }
        add("request_id", s.requestID); add("client_request_id", s.clientRequestID)
        add("user_id", s.userID); add("group_id", s.groupID)
        add("status", s.status.map { "\($0) \(HTTPReason.phrase($0))" })
        add("server_timing", s.serverTiming.map { String(Int($0.rounded())) })
        add("request_content_type", s.requestContentType); add("response_content_type", s.responseContentType)
        add("response_ttft", s.ttftMs.map { String(Int($0.rounded())) })
        add("response_tpot", s.tpotMs.map { String(Int($0.rounded())) })
        add("response_otps", s.otps.map { decimals4($0) })
        add("latency", s.latencyMs.map { String(Int($0.rounded())) })
        add("endpoint", s.endpoint); add("model", s.model); add("finish_reason", s.finishReason)
        add("prompt_tokens", s.promptTokens.map(String.init)); add("completion_tokens", s.completionTokens.map(String.init))
        add("total_tokens", s.totalTokens.map(String.init)); add("cached_tokens", s.cachedTokens.map(String.init))
        add("error_step", s.errorStep)
        if s.state != "complete" { m["state"] = s.state }
        for f in ex?.begin.meta ?? [] where shownMetaKeys.contains(f.name) {
            if f.name == "moonpalace_id" { m["id"] = String(s.id) }
            m[f.name] = f.value
        }
        return .object(JSONObject(m.keys.sorted().map { ($0, JSONValue.string(m[$0]!)) }))
    }

    /// The MoonPalace file name (§12.3), first rule that applies: `<chatcmpl>.json` for a chat completion with an
    /// id; `requestid-<Msh-Request-Id>.json`; `<method>-<path without /v1/, '/' → '-'>[-<uid>]-<YYYYMMDDhhmmss>.json`.
    /// Throws when an id would make a name that leaves the directory (a `/`, a NUL, `.`/`..`).
    public static func fileName(_ s: ExchangeSummary) throws -> String {
        let name: String
        if s.isChat, let c = s.chatcmpl, !c.isEmpty {
            name = c + ".json"
        } else if let r = s.requestID, !r.isEmpty {
            name = "requestid-" + r + ".json"
        } else {
            var path = Substring(s.path)
            if path.hasPrefix("/v1/") { path = path.dropFirst(4) } else if path.hasPrefix("/") { path = path.dropFirst() }
            var n = s.method.lowercased() + "-" + path.replacing("/", with: "-")
            if let uid = s.userID, !uid.isEmpty { n += "-" + uid }
            name = n + "-" + ExportTime.compact(s.startedAt) + ".json"
        }
        if name.contains("/") || name.utf8.contains(0) || name.hasPrefix("..") || name == ".json" || name.contains("\\") {
            throw IndexError.invalidArgument("exchange \(s.id): its id would make the file name \"\(name)\", which "
                + "would leave the export directory; export it with --output FILE instead")
        }
        return name
    }

    /// A runnable curl command (`export --curl`): headers in a stable (sorted) order without hop-by-hop ones,
    /// Content-Length, Host or Accept-Encoding; the key as `$MOONSHOT_API_KEY`; the body passed verbatim with
    /// `--data-raw '…'` (single quotes escaped), or base64-decoded through a pipe when it is not text.
    public static func curl(_ s: ExchangeSummary, _ ex: LoadedExchange, redactor: Redactor) -> String {
        let skip: Set<String> = ["content-length", "host", "accept-encoding", "authorization", "x-unix-micro",
                                 "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                                 "upgrade", "expect", "proxy-authorization"]
        let headers = ex.begin.requestHeaders
            .filter { !skip.contains($0.name.lowercased()) && !$0.name.lowercased().hasPrefix("x-moonpalace-") }
            .enumerated().sorted { ($0.element.name.lowercased(), $0.offset) < ($1.element.name.lowercased(), $1.offset) }
            .map { redactor.header($0.element) }
        let body = ex.requestBody
        let isText = !body.contains(0) && UTF8Check.isValid(body)
        var lines: [String] = []
        var prefix = ""
        if !body.isEmpty && !isText { prefix = "printf '%s' '\(Base64.encode(body))' | base64 -d | " }
        lines.append("\(prefix)curl -X \(shellQuote(s.method)) \(shellQuote(redactor.text(url(s))))")
        lines.append("-H \"Authorization: Bearer $MOONSHOT_API_KEY\"")
        for h in headers { lines.append("-H " + shellQuote("\(h.name): \(h.value)")) }
        if !body.isEmpty {
            lines.append(isText ? "--data-raw " + shellQuote(redactor.text(String(decoding: body, as: UTF8.self)))
                                : "--data-binary @-")
        }
        return lines.enumerated().map { $0.offset == 0 ? $0.element : "\t" + $0.element }.joined(separator: " \\\n") + "\n"
    }

    /// `'…'` with each `'` written as `'"'"'`: safe for any text in POSIX shells.
    public static func shellQuote(_ s: String) -> String {
        "'" + s.replacing("'", with: "'\"'\"'") + "'"
    }

    public static func url(_ s: ExchangeSummary) -> String {
        (s.endpoint ?? "") + s.path + (s.query.isEmpty ? "" : "?" + s.query)
    }

    static func headerText(_ headers: [HeaderField]) -> String {
        headers.map { "\($0.name): \($0.value)\r\n" }.joined()
    }

    /// A body as JSON when it parses, else as a (redacted) string.
    static func body(_ bytes: [UInt8], _ redactor: Redactor) -> JSONValue {
        if bytes.isEmpty { return .string("") }
        let first = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "["), let v = try? JSONValue.parse(bytes) {
            return redactor.json(v)
        }
        return .string(redactor.text(String(decoding: bytes, as: UTF8.self)))
    }

    /// Appends `body(bytes, redactor).serializedBytes()` to `out`; a JSON body is copied from its bytes
    /// (`RedactedJSON`) instead of being parsed into a tree and serialised again.
    static func appendBody(_ bytes: [UInt8], _ redactor: Redactor, to out: inout [UInt8]) {
        let first = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
           bytes.withUnsafeBufferPointer({ RedactedJSON.append($0, redactor: redactor, to: &out) }) {
            return
        }
        if first != UInt8(ascii: "{") && first != UInt8(ascii: "[") {
            // Not JSON: the (redacted) text as a string, without the `JSONValue` round trip; validity, key test
            // and escaping in one pass.
            if !JSONText.appendTextIfValid(bytes, redactor, to: &out) {
                JSONValue.appendString(redactor.text(String(decoding: bytes, as: UTF8.self)), to: &out)
            }
            return
        }
        out.append(contentsOf: body(bytes, redactor).serializedBytes())
    }

    static func decimals4(_ d: Double) -> String {
        let scaled = Int64((d * 10_000).rounded())
        let whole = scaled / 10_000, frac = abs(scaled % 10_000)
        let f = String(frac)
        return (scaled < 0 && whole == 0 ? "-" : "") + String(whole) + "." + String(repeating: "0", count: 4 - f.count) + f
    }

    static func escapingHTML(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

/// HTTP reason phrases, for MoonPalace's `"200 OK"` status strings and HAR's `statusText`.
public enum HTTPReason {
    public static func phrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Payload Too Large"
        case 422: "Unprocessable Entity"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: ""
        }
    }
}

/// Base64 (RFC 4648, with padding), for binary bodies in curl commands and HAR.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], alphabet[Int(v & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
