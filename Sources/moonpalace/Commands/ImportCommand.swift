import ArgumentParser
import PalaceIndex
import PalaceLog
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `moonpalace import PATH` — brings a MoonPalace `moonpalace.sqlite` history into the log.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a MoonPalace database (moonpalace.sqlite)",
        discussion: """
            Reads every row of MoonPalace's moonshot_requests table (any version) and records it as an exchange. \
            The row's own id and time are kept: inspect shows them as moonpalace_id and requested_at (our id as id). \
            Importing the same file again adds nothing. A broken or foreign file is refused with nothing imported. \
            Needs the log's writer lock: stop a running 'moonpalace start' on the same data directory first.
            """
    )

    @Argument(help: "Path of the MoonPalace database (e.g. ~/.moonpalace/moonpalace.sqlite).") var path: String
    @Flag(name: .customLong("write-fixture"), help: ArgumentHelp("Instead: write a MoonPalace database at PATH from the data directory's log (tests, benchmarks).", visibility: .hidden))
    var writeFixture = false
    @OptionGroup var data: DataDirOptions

    func run() async throws {
        try await IndexCLI.runAsync {
            if writeFixture {
                let dir = try data.open()
                let seconds = try IndexBenchmark.buildMoonPalaceTable(path: path, logDirectory: dir.logDirectory, expected: .max)
                IndexCLI.out("wrote \(path) in \(seconds) s")
                return
            }
            let source = try MoonPalaceImport(sourcePath: path)
            let (index, dir) = try IndexCLI.open(data)
            let writer: LogWriter
            do throws(LogError) {
                // No fsync per batch: the import syncs once at the end (and withdraws everything if that fails).
                // LZ4 fast only: the high-compression budget (meant for a proxy's idle CPU) cost an import of
                // 100k rows 1.4 s of CPU; the stored format is the same either way.
                var options = LogWriterOptions(syncPolicy: .none)
                options.highCompressionBytesPerSecond = 0
                writer = try LogWriter.open(directory: dir.logDirectory, options: options)
            } catch {
                guard case .locked(_, let pid) = error else { throw error }
                let who = pid.map { "moonpalace (pid \($0))" } ?? "another moonpalace"
                throw IndexError.logBusy("\(who) is writing to this data directory's log (probably 'moonpalace start'); "
                    + "import writes many records and needs the log's writer lock: stop that process and import again")
            }
            let indexedBefore = try index.watermark()
            let progress = ExportProgress(total: isatty(2) != 0 ? try source.rowCount() : nil, verb: "importing")
            var failure: (any Error)?
            var report = MoonPalaceImport.Report()
            do { report = try await source.run(index: index, writer: writer) { done, _ in progress.update(done) } }
            catch { failure = error }
            let logEnd = writer.nextSequence
            do { try await writer.close() } catch { if failure == nil { failure = error } }
            progress.finish()
            // Index the new records. When they are at least half of the log, a rebuild (the bulk load: two
            // threads, secondary indexes built once at the end) costs less than catching up record by record
            // (100k imported exchanges: 5.0 s CPU against 12.3 s); otherwise catch up.
            let newRecords = logEnd > indexedBefore ? logEnd - indexedBefore : 0
            if failure == nil, report.imported > 0, logEnd - 1 <= 2 * newRecords {
                let tty = isatty(2) != 0
                try index.rebuild(progress: tty ? { n, _ in if n >= 20_000 { IndexCLI.progressLine("indexing", n) } } : nil)
                if tty { IndexCLI.err("\r\u{1B}[K") }
            } else {
                try index.catchUp()
            }
            if let failure { throw failure }
            IndexCLI.out("imported \(report.imported) exchange(s) from \(path)"
                         + (report.alreadyPresent > 0 ? " (\(report.alreadyPresent) already imported, skipped)" : ""))
        }
    }
}
