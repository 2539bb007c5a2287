import ArgumentParser
import PalaceIndex
import PalaceLog
import PalaceProxy
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `moonpalace cleanup` — deletes exchanges by writing tombstone records to the log (the index drops their
/// rows; `--compact` then rewrites the log's sealed segments without them and shrinks the index).
///
/// Decision: tombstones go through the log's single writer: cleanup opens it when it is free, and while
/// `moonpalace start` holds it they go through that proxy's control channel (as `export --good/--bad` does).
/// `--compact` rewrites sealed segments, which needs the lock itself: with `start` running it is refused before
/// anything is deleted.
struct CleanupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Cleanup Moonshot AI requests",
        discussion: """
            Selects exchanges requested before --before (default: 7 days ago, like MoonPalace), or those matching \
            --predicate and/or --id (then --before applies only when given). Shows what would go with --dry-run; \
            asks before deleting unless --yes. Deletion appends tombstone records to the log (the index is rebuilt \
            from the log, so deleted exchanges stay deleted), through the running 'moonpalace start' when one \
            holds the log. --compact rewrites the log and needs 'start' stopped.
            """
    )

    @Option(help: "Delete exchanges requested before this time: YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS' (local), RFC 3339, or an age such as 30d.")
    var before: String?
    @Option(name: [.short, .long], help: "Delete exchanges matching this filter (repeatable, ANDed).") var predicate: [String] = []
    @Option(help: "Delete this exchange id (repeatable).") var id: [Int64] = []
    @Flag(name: .customLong("dry-run"), help: "Only show what would be deleted.") var dryRun = false
    @Flag(name: .shortAndLong, help: "Do not ask for confirmation.") var yes = false
    @Flag(help: "Afterwards reclaim the space: rewrite the log's sealed segments without the deleted exchanges, re-index, and shrink the index (as 'index compact').")
    var compact = false
    @OptionGroup var data: DataDirOptions

    func run() async throws {
        try await IndexCLI.runAsync {
            let (index, dir) = try IndexCLI.open(data)
            var q = ListQuery(limit: nil, predicates: predicate)
            let beforeText = before ?? ((predicate.isEmpty && id.isEmpty) ? Self.sevenDaysAgo() : nil)
            if let beforeText {
                guard let t = TimeExpression.parse(beforeText) else {
                    throw ValidationError("the date(time) format is either YYYY-mm-dd or YYYY-mm-dd HH:MM:SS, got \(beforeText)")
                }
                q.until = t.start
            }
            var ids = try index.ids(q)
            if !id.isEmpty { let wanted = Set(id); ids = ids.filter { wanted.contains($0) } }
            if dryRun {
                let rows = try ids.prefix(50).compactMap { try index.summary(id: $0) }
                let cols = ["id", "status", "chatcmpl", "request_id", "requested_at", "model"]
                IndexCLI.out(IndexTable(headers: cols, rows: rows.map { r in cols.map { ListCommand.cell($0, r) } },
                                        maxWidth: IndexCLI.terminalWidth()).render())
                IndexCLI.out("\(ids.count) exchange(s) would be deleted\(ids.count > 50 ? " (first 50 shown)" : "")")
                return
            }
            if compact, let pid = LogLiveness.writerPID(dir.logDirectory) {
                throw IndexError.logBusy("moonpalace (pid \(pid)) is writing to this data directory's log (probably "
                    + "'moonpalace start'); cleanup --compact rewrites the log and needs its writer lock: stop that "
                    + "process and run it again, or leave out --compact (tombstones then go through the running proxy)")
            }
            if !ids.isEmpty && !yes {
                guard isatty(0) != 0 else {
                    throw IndexError.invalidArgument("cleanup would delete \(ids.count) exchange(s); add --yes to confirm "
                                                     + "(or --dry-run to see them)")
                }
                IndexCLI.err("Delete \(ids.count) exchange(s)? [y/N] ")
                guard let answer = readLine(), answer.lowercased().hasPrefix("y") else {
                    IndexCLI.note("nothing deleted"); return
                }
            }
            if !ids.isEmpty {
                try await Self.tombstone(ids, dataDirectory: dir)
                try index.catchUp()
            }
            if compact {
                let writer = try Self.openWriter(dir.logDirectory, purpose: "cleanup --compact rewrites the log")
                let r: ExchangeIndex.LogCompactReport
                do { r = try index.compactLog() } catch {
                    try? await writer.close()
                    throw error
                }
                try await writer.close()
                IndexCLI.note("compacted: \(r.recordsDropped) records dropped from \(r.segmentsRewritten) sealed segments, "
                              + "\(r.bytesReclaimed) bytes reclaimed (the active segment is compacted once it is sealed)")
            }
            IndexCLI.out(IndexTable(headers: ["", ""], rows: [["cleanup", String(ids.count)]], maxWidth: nil,
                                    headerless: true).render())
        }
    }

    static func sevenDaysAgo() -> String {
        var t = time_t(TimeExpression.nowMicros() / 1_000_000 - 7 * 86400)
        var p = tm()
        localtime_r(&t, &p)
        return IndexCLI.format4(Int(p.tm_year) + 1900) + "-" + IndexCLI.two(Int(p.tm_mon) + 1) + "-" + IndexCLI.two(Int(p.tm_mday))
    }

    /// Appends tombstones (10,000 ids per record) through the log's one writer: this process's when the lock is
    /// free, else the running proxy's (control channel).
    static func tombstone(_ ids: [Int64], dataDirectory dir: DataDirectory) async throws {
        let parts = stride(from: 0, to: ids.count, by: 10_000).map { ids[$0..<min(ids.count, $0 + 10_000)].map { UInt64($0) } }
        try await LogAppendRoute.run(
            dir, whenBusy: "cleanup writes tombstones to the log: stop it and run cleanup again, or use --dry-run meanwhile",
            direct: { writer in
                for part in parts { _ = try await writer.append(.tombstone(Tombstone(exchangeIDs: part, reason: "cleanup"))) }
            },
            viaProxy: { proxy in try await ControlClient.tombstone(ids.map { UInt64($0) }, reason: "cleanup", via: proxy) })
    }

    /// The log's writer, or a message saying which process holds it.
    static func openWriter(_ logDirectory: String, purpose: String = "cleanup writes tombstones to the log") throws -> LogWriter {
        do throws(LogError) {
            return try LogWriter.open(directory: logDirectory)
        } catch {
            guard case .locked(_, let pid) = error else { throw error }
            let who = pid.map { "moonpalace (pid \($0))" } ?? "another moonpalace"
            throw IndexError.logBusy("\(who) is writing to this data directory's log (probably 'moonpalace start'); "
                + "\(purpose) and needs its writer lock: stop that process (Ctrl-C) and run it again"
                + (purpose.hasPrefix("cleanup") ? ", or use --dry-run meanwhile" : ""))
        }
    }
}
