import ArgumentParser
import PalaceIndex
import PalaceWire

/// `moonpalace stats` — per model and day: requests, errors, tokens, p50/p95 latency and TTFT.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Requests, errors, tokens and p50/p95 latency and TTFT per model and day.",
        discussion: "Days are local dates. An error is a missing status, a status ≥ 400, or a proxy error."
    )

    @Option(help: "Only exchanges requested at or after this time (default: everything).") var since: String?
    @Option(help: "Only exchanges requested before this time.") var until: String?
    @Option(name: [.short, .long], help: "Filter expression (repeatable), as in list.") var predicate: [String] = []
    @Flag(help: "JSON Lines output, one object per model and day.") var json = false
    @OptionGroup var data: DataDirOptions

    func run() throws {
        try IndexCLI.run {
            let (index, _) = try IndexCLI.open(data)
            let rows = try index.stats(ListQuery(limit: nil, since: try IndexCLI.time(since, flag: "--since"),
                                                 until: try IndexCLI.time(until, flag: "--until", end: true),
                                                 predicates: predicate))
            if json {
                for r in rows {
                    IndexCLI.out(JSONValue.object(JSONObject([
                        ("day", .string(r.day)), ("model", .string(r.model)), ("requests", .number(String(r.requests))),
                        ("errors", .number(String(r.errors))), ("prompt_tokens", .number(String(r.promptTokens))),
                        ("completion_tokens", .number(String(r.completionTokens))),
                        ("cached_tokens", .number(String(r.cachedTokens))),
                        ("latency_p50_ms", IndexCLI.number(r.latencyP50)), ("latency_p95_ms", IndexCLI.number(r.latencyP95)),
                        ("ttft_p50_ms", IndexCLI.number(r.ttftP50)), ("ttft_p95_ms", IndexCLI.number(r.ttftP95)),
                    ])).serialized())
                }
                return
            }
            let table = IndexTable(
                headers: ["day", "model", "requests", "errors", "prompt", "completion", "cached", "p50 latency",
                          "p95 latency", "p50 ttft", "p95 ttft"],
                rows: rows.map { r in [r.day, r.model, String(r.requests), String(r.errors), String(r.promptTokens),
                                       String(r.completionTokens), String(r.cachedTokens), IndexCLI.ms(r.latencyP50),
                                       IndexCLI.ms(r.latencyP95), IndexCLI.ms(r.ttftP50), IndexCLI.ms(r.ttftP95)] },
                maxWidth: IndexCLI.terminalWidth())
            IndexCLI.out(table.render())
        }
    }
}
