import ArgumentParser
import PalaceLog

/// `moonpalace log …` — read-only views of the segment log, safe while a writer runs.
struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Inspect the segment log (stat, verify, dump).",
        subcommands: [LogStatCommand.self, LogVerifyCommand.self, LogDumpCommand.self,
                      LogAppendStressCommand.self, LogBenchCommand.self]
    )
}

/// Prints `error: <message>` to stderr and exits 1: the CLI's way to fail (CONTRACT.md, "CLI conventions").
func logCommandFailure(_ message: String) -> ExitCode {
    var err = StandardError()
    print("error: \(message)", to: &err)
    return ExitCode(1)
}

struct StandardError: TextOutputStream {
    mutating func write(_ s: String) {
        var s = s
        s.withUTF8 { b in _ = Glibc.write(2, b.baseAddress, b.count) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
