import ArgumentParser
import PalaceIndex
import PalaceLog
import PalaceWire

/// `moonpalace inspect` — one exchange: MoonPalace's metadata table, selected columns, or raw HTTP.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Inspect the specific content of a Moonshot AI request",
        discussion: """
            Select with --id, --chatcmpl or --requestid (all given ones must match). --print takes \
            metadata, request_header, request_body, response_header, response_body, error, merged \
            (comma-separated or repeated). --json prints everything as one JSON object.
            """
    )

    @Option(help: "Exchange id.") var id: Int64?
    @Option(help: "Completion id (chatcmpl-…).") var chatcmpl: String?
    @Option(help: "Moonshot request id (Msh-Request-Id).") var requestid: String?
    @Option(name: .customLong("print"), parsing: .singleValue, help: "Columns to show.")
    var printColumns: [String] = []
    @Flag(name: .customLong("print-request"), help: "Print the request as raw HTTP.") var printRequest = false
    @Flag(name: .customLong("print-response"), help: "Print the response as raw HTTP.") var printResponse = false
    @Flag(name: .customLong("merge-event-stream"), help: "With --print-response: merge a stream into one JSON object.")
    var mergeEventStream = false
    @Flag(help: "One JSON object with metadata, request, response and error.") var json = false
    @OptionGroup var data: DataDirOptions

    func validate() throws {
        if id == nil && chatcmpl == nil && requestid == nil {
            throw ValidationError("give at least one of --id, --chatcmpl, --requestid")
        }
        if [!printColumns.isEmpty, printRequest, printResponse].filter({ $0 }).count > 1 {
            throw ValidationError("--print, --print-request and --print-response are mutually exclusive")
        }
        if let bad = printNames.first(where: { !Self.printable.contains($0) }) {
            throw ValidationError("--print: unknown column \"\(bad)\"; choose from \(Self.printable.joined(separator: ", "))")
        }
    }

    func run() throws {
        try IndexCLI.run {
            let (index, _) = try IndexCLI.open(data)
            guard let found = try index.find(id: id, chatcmpl: chatcmpl, requestID: requestid),
                  let s = try index.summary(id: found) else {
                if let id, let removed = index.removedFromLog(id: id) { throw IndexError.notFound(removed) }
                throw IndexError.notFound("no exchange matches \(selectorText); try 'moonpalace list'")
            }
            guard let ex = try index.exchange(id: found) else { throw IndexError.notFound("exchange \(found) is gone") }
            if json { IndexCLI.out(InspectFormat.json(s, ex).serialized(pretty: true, indent: 4)); return }
            if printRequest { IndexCLI.out(InspectFormat.rawRequest(s, ex)); return }
            if printResponse { IndexCLI.out(InspectFormat.rawResponse(s, ex, merge: mergeEventStream)); return }
            IndexCLI.out(InspectFormat.table(s, ex, columns: printNames.isEmpty ? ["metadata"] : printNames))
        }
    }

    /// The columns `--print` can show (MoonPalace's, plus the merged completion of a stream).
    static let printable = ["metadata", "request_header", "request_body", "response_header", "response_body", "error", "merged"]

    var printNames: [String] {
        printColumns.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: " ") } }.filter { !$0.isEmpty }
    }

    var selectorText: String {
        var parts: [String] = []
        if let id { parts.append("--id \(id)") }
        if let chatcmpl { parts.append("--chatcmpl \(chatcmpl)") }
        if let requestid { parts.append("--requestid \(requestid)") }
        return parts.joined(separator: " ")
    }
}

/// The shapes `inspect` prints (reference §12.2), shared with `--json`.
enum InspectFormat {
    /// MoonPalace's metadata object (all values strings, keys sorted), plus model/state/tokens/finish reason.
    static func metadata(_ s: ExchangeSummary, _ ex: LoadedExchange? = nil) -> JSONValue {
        var m: [(String, String)] = [("moonpalace_id", String(s.id)), ("requested_at", IndexCLI.localTime(s.startedAt)),
                                     ("state", s.state)]
        func add(_ k: String, _ v: String?) { if let v, !v.isEmpty { m.append((k, v)) } }
        func fmt(_ d: Double?, _ decimals: Int = 0) -> String? {
            guard let d else { return nil }
            if decimals == 0 { return String(Int(d.rounded())) }
            let scale = 10_000.0
            let r = (d * scale).rounded() / scale
            let whole = Int(r), frac = Int(((r - Double(whole)) * scale).rounded())
            return "\(whole)." + String(repeating: "0", count: 4 - String(frac).count) + String(frac)
        }
        if s.isChat { add("chatcmpl", s.chatcmpl) }
        add("request_id", s.requestID); add("client_request_id", s.clientRequestID)
        add("user_id", s.userID); add("group_id", s.groupID)
        add("status", s.status.map { "\($0) \(IndexCLI.reason($0))" })
        add("server_timing", fmt(s.serverTiming)); add("request_content_type", s.requestContentType)
        add("response_content_type", s.responseContentType); add("response_ttft", fmt(s.ttftMs))
        add("response_tpot", fmt(s.tpotMs)); add("response_otps", fmt(s.otps, 4)); add("latency", fmt(s.latencyMs))
        add("endpoint", s.endpoint); add("model", s.model); add("finish_reason", s.finishReason)
        add("prompt_tokens", s.promptTokens.map(String.init)); add("completion_tokens", s.completionTokens.map(String.init))
        add("total_tokens", s.totalTokens.map(String.init)); add("cached_tokens", s.cachedTokens.map(String.init))
        add("error_step", s.errorStep); add("category", s.category)
        add("tags", s.tags.isEmpty ? nil : s.tags.joined(separator: ","))
        add("warnings", s.warnings.isEmpty ? nil : s.warnings.joined(separator: "; "))
        m = ExportMeta.merge(m, ex, id: s.id)
        return .object(JSONObject(m.sorted { $0.0 < $1.0 }.map { ($0.0, JSONValue.string($0.1)) }))
    }

    /// A body pretty-printed (4 spaces) when it is JSON, else as text.
    static func body(_ bytes: [UInt8]) -> String {
        if let v = try? JSONValue.parse(bytes) { return v.serialized(pretty: true, indent: 4) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func bodyJSON(_ bytes: [UInt8]) -> JSONValue {
        if bytes.isEmpty { return .string("") }
        return (try? JSONValue.parse(bytes)) ?? .string(String(decoding: bytes, as: UTF8.self))
    }

    static func url(_ s: ExchangeSummary) -> String { (s.endpoint ?? "") + s.path + (s.query.isEmpty ? "" : "?" + s.query) }

    static func errorText(_ s: ExchangeSummary, _ ex: LoadedExchange) -> String? {
        if let e = s.error { return (s.errorStep.map { "[\($0)] " } ?? "") + e }
        if s.hasError, !ex.responseBody.isEmpty { return body(ex.mergedResponseBody) }
        return nil
    }

    static func json(_ s: ExchangeSummary, _ ex: LoadedExchange) -> JSONValue {
        var o: [(String, JSONValue)] = [
            ("metadata", metadata(s, ex)),
            ("request", .object(JSONObject([("method", .string(s.method)), ("url", .string(url(s))),
                                            ("header", .string(LoadedExchange.headerText(ex.begin.requestHeaders))),
                                            ("body", bodyJSON(ex.requestBody))]))),
            ("response", .object(JSONObject([("status", .string(s.status.map { "\($0) \(IndexCLI.reason($0))" } ?? "")),
                                             ("header", .string(LoadedExchange.headerText(ex.end?.responseHeaders ?? []))),
                                             ("body", bodyJSON(ex.responseBody))]))),
        ]
        if ex.isStream, !ex.mergedResponseBody.isEmpty { o.append(("merged", bodyJSON(ex.mergedResponseBody))) }
        if let e = s.error { o.append(("error", .string(e))) }
        return .object(JSONObject(o))
    }

    static func rawRequest(_ s: ExchangeSummary, _ ex: LoadedExchange) -> String {
        var out = "\(s.method) \(url(s)) HTTP/1.1\n"
        out += LoadedExchange.headerText(ex.begin.requestHeaders).replacing("\r\n", with: "\n")
        if !ex.requestBody.isEmpty { out += "\n" + body(ex.requestBody) }
        return out
    }

    static func rawResponse(_ s: ExchangeSummary, _ ex: LoadedExchange, merge: Bool) -> String {
        var out = "HTTP/1.1 " + (s.status.map { "\($0) \(IndexCLI.reason($0))" } ?? "(no response)") + "\n"
        out += LoadedExchange.headerText(ex.end?.responseHeaders ?? []).replacing("\r\n", with: "\n")
        let b = merge ? ex.mergedResponseBody : ex.responseBody
        if !b.isEmpty { out += "\n" + (merge || !ex.isStream ? body(b) : String(decoding: b, as: UTF8.self)) }
        if let e = s.error { out += "\n(proxy error at \(s.errorStep ?? "?"): \(e))" }
        return out
    }

    /// MoonPalace's table mode: a header row of the requested names, one row of cells; bodies wrap at 48.
    static func table(_ s: ExchangeSummary, _ ex: LoadedExchange, columns: [String]) -> String {
        var headers: [String] = [], cells: [String] = [], wrap: [Int: Int] = [:]
        for name in columns {
            let cell: String?
            var header = name
            switch name {
            case "metadata": cell = metadata(s, ex).serialized(pretty: true, indent: 4)
            case "request_header": cell = LoadedExchange.headerText(ex.begin.requestHeaders).replacing("\r\n", with: "\n")
            case "response_header": cell = LoadedExchange.headerText(ex.end?.responseHeaders ?? []).replacing("\r\n", with: "\n")
            case "request_body": cell = body(ex.requestBody)
            case "response_body":
                cell = body(ex.responseBody)
                if let st = s.status, st >= 400 { header = "error" }
            case "merged": cell = body(ex.mergedResponseBody)
            case "error": cell = errorText(s, ex)
            default: cell = nil
            }
            guard let cell else { continue }
            if ["error", "request_body", "response_body", "merged"].contains(header) { wrap[headers.count] = 48 }
            headers.append(header)
            cells.append(cell)
        }
        // `error` is shown only for an exchange that has one (MoonPalace); alone, that leaves nothing to show.
        guard !headers.isEmpty else {
            return "exchange \(s.id) has no error (status \(s.status.map { "\($0) \(IndexCLI.reason($0))" } ?? "none"), state \(s.state))"
        }
        return IndexTable(headers: headers, rows: [cells], maxWidth: nil, wrap: wrap).render()
    }
}
