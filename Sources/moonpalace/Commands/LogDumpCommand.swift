import ArgumentParser
import PalaceLog

/// `moonpalace log dump [--from ID] [--limit N]`: records as JSON Lines (fields: README, "log dump").
struct LogDumpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump", abstract: "Print records as JSON Lines, one record a line.")

    @OptionGroup var data: DataDirOptions
    @Option(help: "First record id (sequence number) to print.") var from: UInt64 = 0
    @Option(help: "Print at most N records (default: all).") var limit: Int?

    func run() async throws {
        let dir = try data.open()
        let reader: LogReader
        do { reader = try LogReader(directory: dir.logDirectory) } catch { throw logCommandFailure(error.description) }
        let it = reader.records(from: from)
        var n = 0
        var out = ""
        out.reserveCapacity(1 << 16)
        while limit.map({ n < $0 }) ?? true, let r = it.next() {
            out += RecordJSON.line(r)
            out += "\n"
            n += 1
            if out.utf8.count >= 1 << 16 { print(out, terminator: ""); out = "" }
        }
        print(out, terminator: "")
        var err = StandardError()
        for d in it.damage { print("warning: skipped \(d)", to: &err) }
    }
}
