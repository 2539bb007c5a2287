import ArgumentParser

/// `moonpalace log …` — read-only views of the segment log. Filled in by the PalaceLog issue.
struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Inspect the segment log (stat, verify, dump)."
    )
}
