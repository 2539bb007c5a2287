import ArgumentParser
import Foundation

/// The `moonpalace` command line. Wiring only: each subcommand lives in `Commands/` and calls a library.
@main
struct MoonPalace: AsyncParsableCommand {
    static let version = "v0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "moonpalace",
        abstract: "MoonPalace is a command-line tool for debugging the Moonshot AI HTTP API",
        discussion: """
            Data lives in ~/.moonpalace unless --data-dir or MOONPALACE_HOME says otherwise.
            """,
        version: "moonpalace version \(version)",
        subcommands: [CompletionCommand.self, LogCommand.self, MockCommand.self, StartCommand.self, StartBenchCommand.self,
                      ListCommand.self, InspectCommand.self, SearchCommand.self, CleanupCommand.self, StatsCommand.self, IndexCommand.self,
                      ExportCommand.self, ImportCommand.self, ReplayCommand.self, ExplainCommand.self,
                      WebCommand.self]
    )

    /// MoonPalace's `--flag=true|false` spellings of `start`'s boolean flags are rewritten first (Config/BoolFlagSyntax).
    static func main() async {
        do {
            var arguments = Array(CommandLine.arguments.dropFirst())
            if arguments == ["-v"] { arguments = ["--version"] }   // MoonPalace's root -v/--version
            arguments = ListCommand.negativeLimits(arguments)
            await main(try BoolFlagSyntax.rewrite(arguments))
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
    }
}
