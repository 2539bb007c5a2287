import PalaceLog

/// What one catch-up did.
public struct CatchUpReport: Sendable, Equatable {
    public var records = 0
    public var exchanges = 0
    public var damage: [String] = []
    public var watermark: UInt64 = 0
}

/// Applies log records to the index in order, in batched transactions, and advances the watermark with them.
///
/// Invariants:
/// - The watermark (next sequence to read) is written in the same transaction as the rows derived from the
///   records before it, so a crash between batches neither loses nor repeats work.
/// - An exchange still open at a batch boundary is written as an `in_flight` row (visible to `list` at once)
///   and kept in memory until its end record; after a restart the end record finds the row in the table and
///   re-reads the begin from the log.
final class IndexUpdater {
    let db: SQLiteConnection
    let reader: LogReader
    var open: [UInt64: ExchangeRow] = [:]
    /// The watermark this updater last committed; if the table says otherwise, another process caught up in
    /// between and `open` is stale (its rows may have ended meanwhile), so it is dropped.
    var committed: UInt64?
    /// When set, records from this sequence on are left for later (verify compares up to the watermark).
    var stopBefore: UInt64?
    static let batchRecords = 4000

    init(db: SQLiteConnection, reader: LogReader) {
        self.db = db
        self.reader = reader
    }

    /// Reads every record from the watermark to the end of the log. `progress` gets (records done, sequence).
    func catchUp(progress: ((Int, UInt64) -> Void)? = nil) throws -> CatchUpReport {
        var report = CatchUpReport()
        var inBatch = 0
        var last: StoredRecord?
        // The write lock first, then the watermark: concurrent catch-ups (the tailer in `start`, a CLI reader)
        // serialize instead of applying the same records twice.
        try db.execute("BEGIN IMMEDIATE")
        let start: UInt64
        do { start = try IndexMeta.watermark(db) } catch { try? db.execute("ROLLBACK"); throw error }
        if committed != start { open.removeAll() }
        let it = reader.records(from: start)
        do {
            while let r = it.next() {
                if let stop = stopBefore, r.sequence >= stop { break }
                try apply(r, report: &report)
                last = r
                report.records += 1
                inBatch += 1
                if inBatch >= Self.batchRecords {
                    try finishBatch(last: r)
                    try db.execute("COMMIT")
                    progress?(report.records, r.sequence)
                    try db.execute("BEGIN IMMEDIATE")
                    inBatch = 0
                }
            }
            if let last { try finishBatch(last: last) }
            try db.execute("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            open.removeAll()
            throw error
        }
        report.damage = it.damage.map(\.description)
        report.watermark = last.map { $0.sequence + 1 } ?? start
        committed = report.watermark
        if let last { progress?(report.records, last.sequence) }
        return report
    }

    private func finishBatch(last: StoredRecord) throws {
        for row in open.values { try write(row, withText: false) }
        try IndexMeta.setWatermark(db, after: last)
    }

    func apply(_ r: StoredRecord, report: inout CatchUpReport) throws {
        switch r.record {
        case .begin(let b):
            open[b.exchangeID] = ExchangeRow(begin: b, position: r.position)
        case .chunk(let c):
            guard var row = try openRow(c.exchangeID) else { return }
            row.add(chunk: c, position: r.position)
            open[c.exchangeID] = row
        case .end(let e):
            guard var row = try openRow(e.exchangeID) else { return }
            open[e.exchangeID] = nil
            row.apply(end: e, position: r.position)
            try write(row, withText: true)
            report.exchanges += 1
        case .annotation(let a):
            if var row = open[a.exchangeID] {
                row.apply(annotation: a)
                open[a.exchangeID] = row
            } else {
                try annotateStored(a)
            }
        case .tombstone(let t):
            for id in t.exchangeIDs {
                open[id] = nil
                try db.run("DELETE FROM exchanges WHERE id = ?", [.integer(Int64(id))])
                try db.run("DELETE FROM exchange_text WHERE rowid = ?", [.integer(Int64(id))])
            }
        }
    }

    /// The in-memory row, or one rebuilt from the stored row and the log (an exchange that began before this
    /// catch-up). Nil when the exchange is unknown (tombstoned, or its begin was lost to damage).
    func openRow(_ id: UInt64) throws -> ExchangeRow? {
        if let row = open[id] { return row }
        let s = try db.prepare("SELECT begin_segment, begin_offset, positions, category, tags FROM exchanges WHERE id = ?")
        try s.bind([.integer(Int64(id))])
        defer { s.reset() }
        guard try s.step() else { return nil }
        let begin = RecordPosition(segment: UInt64(s.int64(at: 0) ?? 0), offset: UInt64(s.int64(at: 1) ?? 0))
        let positions: [RecordPosition]
        if case .blob(let b) = s.value(at: 2) { positions = PositionList.decode(b) } else { positions = [] }
        let category = s.text(at: 3), tags = s.text(at: 4)
        guard case .begin(let b) = try reader.read(at: begin).record else { return nil }
        var row = ExchangeRow(begin: b, position: begin)
        for p in positions {
            if case .chunk(let c) = try reader.read(at: p).record { row.add(chunk: c, position: p) }
        }
        if let category { row.values["category"] = .text(category) }
        if let tags { row.tags = tags.split(separator: ",").map(String.init); row.values["tags"] = .text(tags) }
        return row
    }

    private func annotateStored(_ a: Annotation) throws {
        let id = SQLiteValue.integer(Int64(a.exchangeID))
        guard let rowTags = try db.query("SELECT tags FROM exchanges WHERE id = ?", [id]).first else { return }
        let tags = rowTags[0].string.map { $0.split(separator: ",").map(String.init) } ?? []
        let new = ExchangeRow.applyTags(tags, add: a.addTags, remove: a.removeTags)
        try db.run("UPDATE exchanges SET tags = ? WHERE id = ?", [new.isEmpty ? .null : .text(new.joined(separator: ",")), id])
        if let c = a.category {
            try db.run("UPDATE exchanges SET category = ? WHERE id = ?", [c.isEmpty ? .null : .text(c), id])
        }
    }

    private func write(_ row: ExchangeRow, withText: Bool) throws {
        try db.prepare(ExchangeRow.insertSQL).run(row.parameters())
        guard withText else { return }
        let id = SQLiteValue.integer(row.id)
        try db.run("DELETE FROM exchange_text WHERE rowid = ?", [id])
        if !row.prompt.isEmpty || !row.answer.isEmpty {
            try db.run("INSERT INTO exchange_text (rowid, prompt, answer) VALUES (?, ?, ?)",
                       [id, .text(row.prompt), .text(row.answer)])
        }
    }
}

/// The `index_meta` key/value rows: the watermark and the fingerprint of the last record read.
enum IndexMeta {
    static func get(_ db: SQLiteConnection, _ key: String) throws -> SQLiteValue? {
        try db.scalar("SELECT value FROM index_meta WHERE key = ?", [.text(key)])
    }

    static func set(_ db: SQLiteConnection, _ key: String, _ value: SQLiteValue) throws {
        try db.run("INSERT OR REPLACE INTO index_meta (key, value) VALUES (?, ?)", [.text(key), value])
    }

    static func watermark(_ db: SQLiteConnection) throws -> UInt64 {
        UInt64(try get(db, "watermark")?.int64 ?? 0)
    }

    /// The last record read: its sequence, position and timestamp must still be in the log for the index to be
    /// trusted (a log restored from an older backup fails this check: "index ahead of log").
    struct Fingerprint: Equatable {
        var sequence: UInt64
        var position: RecordPosition
        var timestamp: Int64
    }

    static func fingerprint(_ db: SQLiteConnection) throws -> Fingerprint? {
        guard let seq = try get(db, "last_sequence")?.int64, let seg = try get(db, "last_segment")?.int64,
              let off = try get(db, "last_offset")?.int64, let ts = try get(db, "last_timestamp")?.int64 else { return nil }
        return Fingerprint(sequence: UInt64(seq), position: RecordPosition(segment: UInt64(seg), offset: UInt64(off)),
                           timestamp: ts)
    }

    static func setWatermark(_ db: SQLiteConnection, after r: StoredRecord) throws {
        try set(db, "watermark", .integer(Int64(r.sequence + 1)))
        try set(db, "last_sequence", .integer(Int64(r.sequence)))
        try set(db, "last_segment", .integer(Int64(r.position.segment)))
        try set(db, "last_offset", .integer(Int64(r.position.offset)))
        try set(db, "last_timestamp", .integer(r.timestamp))
    }
}
