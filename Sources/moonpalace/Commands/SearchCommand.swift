import ArgumentParser
import PalaceIndex
import PalaceWire

/// `moonpalace search TEXT` — full-text over prompts and answers (Chinese and English), with snippets.
struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find exchanges whose prompt or answer contains a text.",
        discussion: """
            Substring match in any script (ASCII case-insensitive). Texts of 3+ characters use the full-text index; \
            shorter ones scan. Each hit shows a snippet with the match in [brackets]. --json prints the \
            'list --json' fields plus "snippet", one object per line.
            """
    )

    @Argument(help: "Text to find.") var text: String
    @Option(name: [.customShort("n"), .customLong("n"), .customLong("limit")], help: "Maximum hits; 0 = no limit.")
    var limit: Int = 10
    @Option(name: [.short, .long], help: "Filter expression (repeatable), as in list.") var predicate: [String] = []
    @Option(help: "Only exchanges requested at or after this time.") var since: String?
    @Option(help: "Only exchanges requested before this time.") var until: String?
    @Flag(help: "JSON Lines output.") var json = false
    @OptionGroup var data: DataDirOptions

    func validate() throws { try Self.checkText(text, flag: "TEXT") }

    /// A search text must hold a letter or digit: an empty one would match everything, punctuation nothing.
    static func checkText(_ text: String, flag: String) throws {
        guard text.unicodeScalars.contains(where: { $0.properties.isAlphabetic || $0.properties.numericType != nil }) else {
            throw ValidationError("\(flag): give a text with at least one letter or digit to search for (got \"\(text)\")")
        }
    }

    func run() throws {
        try IndexCLI.run {
            let (index, _) = try IndexCLI.open(data)
            let q = ListQuery(limit: limit, since: try IndexCLI.time(since, flag: "--since"),
                              until: try IndexCLI.time(until, flag: "--until", end: true), predicates: predicate)
            let hits = try index.search(text, query: q)
            if json {
                for h in hits {
                    guard case .object(var o) = ListCommand.json(h.summary) else { continue }
                    o["snippet"] = .string(h.snippet)
                    IndexCLI.out(JSONValue.object(o).serialized())
                }
                return
            }
            let table = IndexTable(headers: ["id", "requested_at", "model", "snippet"],
                                   rows: hits.map { [String($0.summary.id), IndexCLI.localTime($0.summary.startedAt),
                                                     $0.summary.model ?? "", $0.snippet] },
                                   maxWidth: IndexCLI.terminalWidth())
            IndexCLI.out(table.render())
        }
    }
}
