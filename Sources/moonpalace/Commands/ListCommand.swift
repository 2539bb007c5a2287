import ArgumentParser
import PalaceIndex
import PalaceWire

/// `moonpalace list` — MoonPalace's list (newest first, `-n`, `-p`, `--chatonly`), plus paging, time ranges,
/// full text, column choice and JSON Lines.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Query Moonshot AI requests based on conditions",
        discussion: """
            Newest first. Predicates use MoonPalace's syntax over the --json field names (MoonPalace's column \
            names are accepted too): -p "status >= 400 && model ~ 'kimi*'", \
            -p "request_body.messages.0.role == 'system'", -p "response_body.choices.0.finish_reason == 'length'". \
            Operators: == != > >= < <= ~ (LIKE; '*x' ends with, 'x*' starts with, else contains) !~ % (regexp) !% \
            @ [list] !@ [list], && ||, ( ). In-flight and incomplete exchanges are marked in the status column.

            --json prints one object per line with: \(ListCommand.jsonFields.joined(separator: ", ")).
            """
    )

    static let jsonFields = ["id", "state", "status", "method", "path", "chatcmpl", "request_id", "client_request_id",
                             "server_timing", "requested_at", "model", "stream", "prompt_tokens", "completion_tokens",
                             "total_tokens", "cached_tokens", "ttft_ms", "latency_ms", "finish_reason", "error_step",
                             "category", "tags"]

    @Option(name: [.customShort("n"), .customLong("n"), .customLong("limit")],
            help: "Maximum rows; 0 = no limit.")
    var limit: Int = 10

    @Flag(name: .shortAndLong, help: "Wide table: url, method, numeric status, user id, server timing, content type.")
    var verbose = false

    @Option(name: [.short, .long], help: "Filter expression (repeatable; all must hold).")
    var predicate: [String] = []

    @Flag(help: "Only chat completions (paths ending in /chat/completions).")
    var chatonly = false

    @Option(name: .customLong("before-id"), help: "Only exchanges with a smaller id (paging: the last id shown).")
    var beforeID: Int64?

    @Option(help: "Only exchanges requested at or after this time (YYYY-MM-DD, 'YYYY-MM-DD HH:MM:SS', RFC 3339, or an age: 30m, 2h, 3d).")
    var since: String?

    @Option(help: "Only exchanges requested before this time (same formats as --since).")
    var until: String?

    @Option(help: "Only exchanges whose prompt or answer contains this text (full-text).")
    var text: String?

    @Option(help: "Table columns, comma-separated (any --json field, plus url, tokens, ttft, latency).")
    var columns: String?

    @Flag(help: "JSON Lines output.")
    var json = false

    @Option(help: "Write each matching exchange as a MoonPalace case file into this existing directory instead of printing (no row limit unless -n is given).")
    var export: String?

    @Flag(name: .customLong("escape-html"), help: "With --export: escape <, > and & in the JSON.")
    var escapeHTML = false

    @OptionGroup var data: DataDirOptions

    func validate() throws {
        if let text { try SearchCommand.checkText(text, flag: "--text") }
        if columns != nil { _ = try chosenColumns() }
    }

    func run() throws {
        try IndexCLI.run {
            let (index, _) = try IndexCLI.open(data)
            let q = ListQuery(limit: export != nil && !ExportList.limitGiven() ? 0 : limit, beforeID: beforeID, since: try IndexCLI.time(since, flag: "--since"),
                              until: try IndexCLI.time(until, flag: "--until", end: true), predicates: predicate,
                              chatOnly: chatonly, text: text)
            if let export { try ExportList.run(index: index, query: q, directory: export, escapeHTML: escapeHTML); return }
            let rows = try index.list(q)
            if json {
                for r in rows { IndexCLI.out(Self.json(r).serialized()) }
                return
            }
            let cols = try chosenColumns()
            let table = IndexTable(headers: cols, rows: rows.map { r in cols.map { Self.cell($0, r) } },
                                   maxWidth: IndexCLI.terminalWidth())
            IndexCLI.out(table.render())
        }
    }

    /// MoonPalace's `list -n -1` (pflag takes the next word as the value; any n ≤ 0 means no limit): ArgumentParser
    /// reads `-1` as an option, so `-n -1` / `--limit -1` become `--limit=-1` before parsing.
    static func negativeLimits(_ args: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < args.count {
            let next = i + 1 < args.count ? args[i + 1] : ""
            if ["-n", "--n", "--limit"].contains(args[i]), next.count > 1, next.first == "-", next.dropFirst().allSatisfy(\.isASCII),
               next.dropFirst().allSatisfy(\.isNumber) {
                out.append("--limit=" + next)
                i += 2
                continue
            }
            if args[i] == "--" { out += args[i...]; break }
            out.append(args[i])
            i += 1
        }
        return out
    }

    func chosenColumns() throws -> [String] {
        if let columns {
            let cols = columns.split(separator: ",").map { String($0).trimmingCharacters(in: " ") }
            let known = Set(Self.jsonFields + ["url", "tokens", "ttft", "latency", "user_id", "group_id", "content_type", "error"])
            if let bad = cols.first(where: { !known.contains($0) }) {
                throw ValidationError("--columns: unknown column \"\(bad)\"; choose from \(known.sorted().joined(separator: ", "))")
            }
            return cols
        }
        if verbose {
            return ["id", "url", "method", "status", "chatcmpl", "request_id", "user_id", "server_timing",
                    "content_type", "requested_at"]
        }
        return ["id", "status", "chatcmpl", "request_id", "server_timing", "requested_at", "model", "tokens", "ttft",
                "latency", "finish_reason", "error_step"]
    }

    /// The `list --json` object of one exchange.
    static func json(_ r: ExchangeSummary) -> JSONValue {
        .object(JSONObject([
            ("id", .number(String(r.id))), ("state", .string(r.state)), ("status", IndexCLI.int(r.status)),
            ("method", .string(r.method)), ("path", .string(r.path)), ("chatcmpl", IndexCLI.string(r.chatcmpl)),
            ("request_id", IndexCLI.string(r.requestID)), ("client_request_id", IndexCLI.string(r.clientRequestID)),
            ("server_timing", IndexCLI.number(r.serverTiming)), ("requested_at", .string(IndexCLI.rfc3339(r.startedAt))),
            ("model", IndexCLI.string(r.model)), ("stream", .bool(r.stream)),
            ("prompt_tokens", IndexCLI.int(r.promptTokens)), ("completion_tokens", IndexCLI.int(r.completionTokens)),
            ("total_tokens", IndexCLI.int(r.totalTokens)), ("cached_tokens", IndexCLI.int(r.cachedTokens)),
            ("ttft_ms", IndexCLI.number(r.ttftMs)), ("latency_ms", IndexCLI.number(r.latencyMs)),
            ("finish_reason", IndexCLI.string(r.finishReason)), ("error_step", IndexCLI.string(r.errorStep)),
            ("category", IndexCLI.string(r.category)), ("tags", .array(r.tags.map(JSONValue.string))),
        ]))
    }

    /// One table cell. The status column shows the reason phrase (MoonPalace), or the exchange's open state.
    static func cell(_ column: String, _ r: ExchangeSummary) -> String {
        switch column {
        case "status":
            if r.state != "complete" { return r.state == "in_flight" ? "… in flight" : "incomplete" }
            return r.status.map(IndexCLI.reason) ?? ""
        case "chatcmpl": return r.isChat ? (r.chatcmpl ?? "") : ""
        case "request_id": return r.requestID ?? ""
        case "requested_at": return IndexCLI.localTime(r.startedAt)
        case "url": return (r.endpoint ?? "") + r.path + (r.query.isEmpty ? "" : "?" + r.query)
        case "tokens": return r.totalTokens == nil ? "" : "\(r.promptTokens ?? 0)+\(r.completionTokens ?? 0)"
        case "ttft", "ttft_ms": return r.ttftMs == nil ? "" : IndexCLI.ms(r.ttftMs)
        case "latency", "latency_ms": return r.latencyMs == nil ? "" : IndexCLI.ms(r.latencyMs)
        case "server_timing": return r.serverTiming.map { String(Int($0)) } ?? "0"
        case "content_type": return r.responseContentType ?? ""
        case "user_id": return r.userID ?? ""
        case "group_id": return r.groupID ?? ""
        case "error": return r.error ?? ""
        case "tags": return r.tags.joined(separator: ",")
        default:
            let v = json(r)[column]
            switch v {
            case .string(let s)?: return s
            case .number(let n)?: return n
            case .bool(let b)?: return b ? "true" : "false"
            default: return ""
            }
        }
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        String(drop(while: { $0 == set }).reversed().drop(while: { $0 == set }).reversed())
    }
}
