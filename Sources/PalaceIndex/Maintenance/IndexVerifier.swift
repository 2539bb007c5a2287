import PalaceLog
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `moonpalace index verify` found.
public struct VerifyReport: Sendable {
    public var integrity: String
    public var missing: [Int64] = []
    public var extra: [Int64] = []
    public var different: [(id: Int64, columns: [String])] = []
    public var damage: [String] = []
    public var isClean: Bool { integrity == "ok" && missing.isEmpty && extra.isEmpty && different.isEmpty }
}

extension ExchangeIndex {
    /// Compares the index with the log: builds the index the log implies into a scratch file with the same code
    /// as catch-up, then compares row by row (every column except `state`, which depends on the writer being
    /// alive). Also runs SQLite's integrity check. Catch up first so both stop at the same record.
    public func verify(progress: ((Int, UInt64) -> Void)? = nil) throws -> VerifyReport {
        let integrity = try db.query("PRAGMA integrity_check").compactMap { $0.first?.string }.joined(separator: "; ")
        let scratch = indexPath + ".verify-\(getpid())"
        Self.removeFiles(scratch)
        defer { Self.removeFiles(scratch) }
        let expected = try Self.openChecked(scratch)
        let upto = try watermark()
        let updater = IndexUpdater(db: expected, reader: reader)
        updater.stopBefore = upto
        try expected.execute("PRAGMA synchronous=OFF")
        let built = try updater.catchUp(progress: progress)
        var report = VerifyReport(integrity: integrity)
        report.damage = built.damage
        try db.run("ATTACH DATABASE ? AS expected", [.text(scratch)])
        defer { try? db.execute("DETACH DATABASE expected") }
        report.missing = try db.query("SELECT id FROM expected.exchanges WHERE id NOT IN (SELECT id FROM main.exchanges) ORDER BY id")
            .compactMap { $0[0].int64 }
        report.extra = try db.query("SELECT id FROM main.exchanges WHERE id NOT IN (SELECT id FROM expected.exchanges) ORDER BY id")
            .compactMap { $0[0].int64 }
        let cols = ExchangeRow.columns.filter { $0 != "state_code" }
        let diffs = cols.map { "(a.\"\($0)\" IS NOT b.\"\($0)\")" }.joined(separator: ", ")
        for row in try db.query("SELECT a.id, \(diffs) FROM main.exchanges a JOIN expected.exchanges b ON a.id = b.id "
                                + "WHERE \(cols.map { "a.\"\($0)\" IS NOT b.\"\($0)\"" }.joined(separator: " OR ")) ORDER BY a.id") {
            let names = zip(cols, row.dropFirst()).filter { $0.1.int64 == 1 }.map(\.0)
            report.different.append((id: row[0].int64 ?? 0, columns: names))
        }
        return report
    }
}
