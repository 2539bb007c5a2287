import ArgumentParser
import PalaceIndex
import PalaceLog
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `moonpalace index status | rebuild | verify | compact` — the SQLite side index (always rebuildable from the log).
struct IndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Maintain the SQLite side index (status, rebuild, verify, compact).",
        subcommands: [IndexStatusCommand.self, IndexRebuildCommand.self, IndexVerifyCommand.self,
                      IndexCompactCommand.self, IndexGenerateCommand.self, IndexBenchCommand.self]
    )
}

/// A progress bar on a terminal (stderr), nothing otherwise.
final class IndexProgress: @unchecked Sendable {
    let total: UInt64
    let tty = isatty(2) != 0
    var lastDraw = 0
    init(total: UInt64) { self.total = max(total, 1) }

    func update(_ records: Int, _ sequence: UInt64) {
        guard tty, records - lastDraw >= 2000 || UInt64(records) >= total else { return }
        lastDraw = records
        let frac = min(1, Double(sequence) / Double(total))
        let filled = Int(frac * 30)
        IndexCLI.err("\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
                     + "] \(Int(frac * 100))% \(records) records")
    }

    func done() { if tty { IndexCLI.err("\r\u{1B}[K") } }
}

struct IndexStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Rows, sizes and lag behind the log.")
    @Flag(help: "JSON output.") var json = false
    @OptionGroup var data: DataDirOptions

    func run() throws {
        try IndexCLI.run {
            let (index, _) = try IndexCLI.open(data, catchUp: false)
            let s = try index.status()
            let pairs: [(String, String)] = [
                ("index", s.indexPath), ("schema_version", String(s.schemaVersion)), ("exchanges", String(s.exchanges)),
                ("in_flight", String(s.inFlight)), ("incomplete", String(s.incomplete)),
                ("watermark", String(s.watermark)), ("log_next_sequence", String(s.logNextSequence)),
                ("lag_records", String(s.lagRecords)), ("index_bytes", String(s.indexBytes)),
                ("fts_bytes", String(s.ftsBytes)), ("log_bytes", String(s.logBytes)),
                ("writer_pid", s.writerPID.map { String($0) } ?? "none"),
            ]
            if json {
                IndexCLI.out("{" + pairs.map { "\"\($0.0)\":" + (Int64($0.1) != nil ? $0.1 : "\"\($0.1)\"") }
                    .joined(separator: ",") + "}")
            } else {
                IndexCLI.out(IndexTable(headers: ["", ""], rows: pairs.map { [$0.0, $0.1] }, maxWidth: nil, headerless: true).render())
            }
        }
    }
}

struct IndexRebuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rebuild", abstract: "Rebuild the index from the log.")
    @OptionGroup var data: DataDirOptions

    func run() throws {
        try IndexCLI.run {
            let (index, dir) = try IndexCLI.open(data, catchUp: false)
            let progress = IndexProgress(total: (try? LogReader(directory: dir.logDirectory).nextSequence) ?? 1)
            let clock = ContinuousClock.now
            let r = try index.rebuild(progress: progress.update)
            progress.done()
            let secs = (ContinuousClock.now - clock).components
            let seconds = Double(secs.seconds) + Double(secs.attoseconds) / 1e18
            IndexCLI.out("rebuilt: \(r.exchanges) exchanges from \(r.records) records in \(String(format1(seconds)))s")
            for d in r.damage.prefix(10) { IndexCLI.note("log damage skipped: \(d)") }
        }
    }

    func format1(_ d: Double) -> String { String(Int(d * 10) / 10) + "." + String(Int(d * 10) % 10) }
}

struct IndexVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Compare the index with the log and report differences (exit 1 if any).")
    @OptionGroup var data: DataDirOptions

    func run() throws {
        var clean = true
        try IndexCLI.run {
            let (index, _) = try IndexCLI.open(data)
            let r = try index.verify()
            IndexCLI.out("sqlite integrity: \(r.integrity)")
            IndexCLI.out("missing from index: \(r.missing.count)\(r.missing.isEmpty ? "" : " (ids " + r.missing.prefix(20).map(String.init).joined(separator: ", ") + ")")")
            IndexCLI.out("not in log: \(r.extra.count)\(r.extra.isEmpty ? "" : " (ids " + r.extra.prefix(20).map(String.init).joined(separator: ", ") + ")")")
            IndexCLI.out("rows that differ: \(r.different.count)")
            for d in r.different.prefix(20) { IndexCLI.out("  id \(d.id): \(d.columns.joined(separator: ", "))") }
            for d in r.damage.prefix(10) { IndexCLI.out("log damage: \(d)") }
            IndexCLI.out(r.isClean ? "ok: the index matches the log" : "the index differs from the log; run 'moonpalace index rebuild'")
            clean = r.isClean
        }
        if !clean { throw ExitCode(1) }
    }
}

struct IndexCompactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Rewrite the log without deleted exchanges, re-index, and shrink the index file.",
        discussion: """
            Rewrites the log's sealed segments without the records of exchanges deleted by 'cleanup' \
            (tombstoned), rebuilds the index from the log (record positions changed) and gives the index's free \
            pages back. Needs the log's writer lock: stop 'moonpalace start' first. The active (newest) segment is \
            left as it is until it is sealed.
            """
    )
    @OptionGroup var data: DataDirOptions

    func run() async throws {
        try await IndexCLI.runAsync {
            let (index, dir) = try IndexCLI.open(data, catchUp: false)
            let writer = try CleanupCommand.openWriter(dir.logDirectory, purpose: "compaction rewrites the log")
            let before = try index.status()
            let r: ExchangeIndex.LogCompactReport
            do { r = try index.compactLog() } catch {
                try? await writer.close()
                throw error
            }
            try await writer.close()
            let after = try index.status()
            IndexCLI.out("log: \(r.tombstoned) deleted exchanges, \(r.recordsDropped) records dropped from "
                         + "\(r.segmentsRewritten) segments, \(before.logBytes) → \(after.logBytes) bytes")
            IndexCLI.out("index: \(before.indexBytes) → \(after.indexBytes) bytes")
        }
    }
}

/// Hidden: writes N synthetic exchanges through the real log writer (benchmarks, e2e tests).
struct IndexGenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_generate", abstract: "Write synthetic traffic to the log.",
                                                    shouldDisplay: false)
    @Argument var count: Int
    @Option var seed: UInt64 = 42
    @Option var days: Int = 30
    @Option(help: "Replay exchanges from this JSON Lines corpus (tools/corpus/generate.py --jsonl) instead of the built-in toy traffic.")
    var corpus: String?
    @Option(help: "Segment size in bytes (tests: several segments).") var segmentBytes: UInt64 = 64 << 20
    @OptionGroup var data: DataDirOptions

    func run() async throws {
        try await IndexCLI.runAsync { try await generate() }
    }

    func generate() async throws {
        let dir = try data.open()
        let writer = try LogWriter.open(directory: dir.logDirectory, options: LogWriterOptions(syncPolicy: .none, segmentMaxBytes: segmentBytes))
        let tty = isatty(2) != 0
        var progress: (@Sendable (Int) -> Void)? = nil
        if tty { progress = { (n: Int) -> Void in IndexCLI.err("\rgenerated \(n)") } }
        if let corpus {
            let pool = try LogBenchCorpus(path: corpus)
            let replay = CorpusReplay(items: pool.items.map { CorpusReplay.Item(begin: $0.begin, end: $0.end) }, seed: seed)
            try await replay.write(count: count, to: writer, days: days, progress: progress)
        } else {
            try await TrafficGenerator(seed: seed).write(count: count, to: writer, days: days, progress: progress)
        }
        try await writer.close()
        if tty { IndexCLI.err("\r\u{1B}[K") }
        IndexCLI.out("generated \(count) exchanges")
    }
}

/// Hidden: in-process query timings against our index and a MoonPalace-style table (`make bench`).
struct IndexBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_bench", abstract: "Time queries (benchmarks).",
                                                    shouldDisplay: false)
    @Option(help: "Where to keep the MoonPalace-style SQLite table (omit to time our index only).") var moonpalaceDB: String?
    @Option var runs: Int = 5
    @Option(help: "Runs of the queries that scan everything.") var scanRuns: Int = 1
    @OptionGroup var data: DataDirOptions

    func run() throws {
        try IndexCLI.run {
            let (index, dir) = try IndexCLI.open(data)
            let count = try index.status().exchanges
            if let moonpalaceDB {
                let built = try IndexBenchmark.buildMoonPalaceTable(path: moonpalaceDB, logDirectory: dir.logDirectory, expected: count)
                if built > 0 { IndexCLI.out("built MoonPalace-style table in \(Int(built))s") }
            }
            func f(_ d: Double?) -> String {
                guard let d else { return "-" }
                return d < 10 ? String(Int(d * 100) / 100) + "." + IndexCLI.two(Int(d * 100) % 100) : String(Int(d.rounded()))
            }
            let lines = try IndexBenchmark(index: index).run(moonPalacePath: moonpalaceDB, runs: runs, scanRuns: scanRuns)
            IndexCLI.out(IndexTable(headers: ["query", "rows", "ours ms", "ours CPU ms", "budget ms", "MoonPalace-style ms"],
                                    rows: lines.map { [$0.name, String($0.rows), f($0.oursMs), f($0.oursCPUMs), $0.budgetMs.map { f($0) } ?? "-", f($0.moonPalaceMs)] },
                                    maxWidth: nil, wrap: [0: 60]).render())
        }
    }
}
