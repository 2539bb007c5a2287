import ArgumentParser
import PalaceLog

/// `moonpalace log verify`: CRC-checks and decodes every record. Damage → each reported, exit 1.
/// A torn tail not yet truncated by a writer is reported but is not an error (exit 0).
struct LogVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every record's CRC and encoding; report damage with segment and offset (exit 1).")

    @OptionGroup var data: DataDirOptions

    func run() async throws {
        let dir = try data.open()
        let s: LogSummary
        do { s = try LogInspector.inspect(directory: dir.logDirectory, decode: true) } catch {
            throw logCommandFailure(error.description)
        }
        for d in s.damage { print("damage: \(d)") }
        if let t = s.tornTail { print("torn tail (not an error): \(t)") }
        let summary = "\(s.records) records in \(s.segments.count) segments"
        if s.damage.isEmpty {
            print("ok: \(summary)")
        } else {
            print("damaged: \(s.damage.count) region(s); \(summary) still readable")
            throw ExitCode(1)
        }
    }
}
