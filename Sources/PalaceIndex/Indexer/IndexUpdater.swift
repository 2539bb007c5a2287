import CSQLite
import Dispatch
import PalaceLog
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// Statements reused for every row (looked up once, not per row through the connection's SQL-keyed cache).
    private var insertRow: SQLiteStatement?
    /// A plain INSERT for rows not in the table yet (most: an exchange that begins and ends between two commits).
    /// `INSERT OR REPLACE` costs ~25 % more per row: its delete-then-insert needs a statement journal.
    private var insertNewRow: SQLiteStatement?
    /// Ids of the open rows that may be in the table: written as in flight at a commit, or loaded from it
    /// (`openRow`). A row not listed is new; should it exist after all, the plain insert fails and is replaced.
    private var storedOpen: Set<UInt64> = []
    private var insertText: SQLiteStatement?
    private var deleteRow: SQLiteStatement?
    /// Records per transaction; a rebuild uses much larger batches.
    var batchRecords = IndexUpdater.batchRecords
    /// Full-text documents of the rows written in the current transaction, inserted together at its end
    /// (`finishBatch`). Interleaved with the row inserts they would cost ~5× as much: every `INSERT OR REPLACE`
    /// into `exchanges` opens a statement savepoint, and FTS5 (SQLite 3.40) flushes its pending in-memory terms
    /// to a new segment at every savepoint — one tiny segment per exchange, all merged again later. Batched, a
    /// transaction adds one segment.
    private var pendingText: [(Int64, [UInt8])] = []
    /// Lookup keys (`exchange_keys`) of the rows written in the current transaction, inserted with the documents.
    private var pendingKeys: [PendingKeys] = []
    private var insertKeys: SQLiteStatement?
    private let rawMemo = ExchangeRow.RawMemo()

    /// Reads every record from the watermark to the end of the log. `progress` gets (records done, sequence).
    func catchUp(progress: ((Int, UInt64) -> Void)? = nil) throws -> CatchUpReport {
        var report = CatchUpReport()
        var inBatch = 0
        var last: StoredRecord?
        // The write lock first, then the watermark: concurrent catch-ups (the tailer in `start`, a CLI reader)
        // serialize instead of applying the same records twice.
        try db.execute("BEGIN IMMEDIATE")
        let start: UInt64
        let marker: RebuildMarker.State
        do {
            start = try IndexMeta.watermark(db)
            marker = try RebuildMarker.state(db)
        } catch { try? db.execute("ROLLBACK"); throw error }
        switch marker {
        case .none: break
        case .running:
            // Another connection is rebuilding: its rows and full-text arrive together at its end; catching up
            // now would write full-text entries its final step replaces. Answer from what is there.
            try db.execute("ROLLBACK")
            report.watermark = start
            return report
        case .interrupted(let why):
            try db.execute("ROLLBACK")
            throw IndexError.interruptedRebuild(why)
        }
        if committed != start { open.removeAll(); storedOpen.removeAll() }
        // Resume at the last record read (its position is in the watermark's fingerprint) rather than by sequence:
        // finding a sequence means reading its segment from the start — up to 64 MB on every catch-up of the
        // tailer, every 250 ms. The fingerprint is checked first (a compacted or replaced log moves records): it is
        // the first record the iterator from its position reads (one read of the log, not a look-up and then
        // the iterator reading the same bytes again).
        var resumed: LogRecordIterator?
        if let fp = try? IndexMeta.fingerprint(db), fp.sequence &+ 1 == start {
            let candidate = reader.records(fromPosition: fp.position)
            if let r = candidate.next(), r.position == fp.position, r.sequence == fp.sequence, r.timestamp == fp.timestamp {
                resumed = candidate
            }
        }
        let it = resumed ?? reader.records(from: start)
        do {
            // Kept across catch-ups (the tailer's run every 250 ms): preparing the row insert costs more than a row.
            if insertRow == nil { insertRow = try db.prepareUncached(ExchangeRow.insertSQL) }
            if insertNewRow == nil { insertNewRow = try db.prepareUncached(ExchangeRow.insertNewSQL) }
            if insertText == nil { insertText = try db.prepareUncached(IndexSchema.insertTextSQL) }
            if deleteRow == nil { deleteRow = try db.prepareUncached("DELETE FROM exchanges WHERE id = ?") }
            if insertKeys == nil { insertKeys = try db.prepareUncached(IndexSchema.insertKeysSQL) }
            while let r = it.next() {
                if r.sequence < start { continue }
                if let stop = stopBefore, r.sequence >= stop { break }
                try apply(r, report: &report)
                last = r
                report.records += 1
                inBatch += 1
                if inBatch >= batchRecords {
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
            storedOpen.removeAll()
            pendingText.removeAll()
            pendingKeys.removeAll()
            insertRow = nil; insertNewRow = nil; insertText = nil; deleteRow = nil; insertKeys = nil
            throw error
        }
        report.damage = it.damage.map(\.description)
        report.watermark = last.map { $0.sequence + 1 } ?? start
        committed = report.watermark
        if let last { progress?(report.records, last.sequence) }
        return report
    }

    /// Ends a transaction's work: the open rows (in flight), then the full-text documents, then the watermark.
    private func finishBatch(last: StoredRecord) throws {
        for row in open.values { try write(row, withText: false) }
        if !pendingText.isEmpty {
            let insert = try insertText ?? db.prepare(IndexSchema.insertTextSQL)
            // In rowid order: FTS5 also flushes its pending terms whenever a rowid is smaller than the previous
            // one, and exchanges end (and are written here) out of id order under concurrent traffic.
            pendingText.sort { $0.0 < $1.0 }
            for (id, doc) in pendingText { try insert.run(rowid: id, text: doc) }
            pendingText.removeAll(keepingCapacity: pendingText.count <= 4096)
        }
        if !pendingKeys.isEmpty {
            try PendingKeys.insert(&pendingKeys, with: insertKeys ?? db.prepare(IndexSchema.insertKeysSQL))
        }
        try IndexMeta.setWatermark(db, after: last)
    }

    func apply(_ r: StoredRecord, report: inout CatchUpReport) throws {
        switch r.record {
        case .begin(let b):
            open[b.exchangeID] = ExchangeRow(begin: b, position: r.position)
        case .chunk(let c):
            // Taken out of `open` (not copied): the row's buffers stay uniquely referenced while it changes.
            guard var row = try open.removeValue(forKey: c.exchangeID) ?? openRow(c.exchangeID) else { return }
            row.add(chunk: c, position: r.position)
            open[c.exchangeID] = row
        case .end(let e):
            guard var row = try open.removeValue(forKey: e.exchangeID) ?? openRow(e.exchangeID) else { return }
            row.apply(end: e, position: r.position)
            try write(row, withText: true)
            report.exchanges += 1
        case .annotation(let a):
            if var row = open.removeValue(forKey: a.exchangeID) {
                row.apply(annotation: a)
                open[a.exchangeID] = row
            } else {
                try annotateStored(a)
            }
        case .tombstone(let t):
            // The row goes; its full-text entry stays behind as garbage until the next rebuild/compact (a
            // contentless FTS table can only forget a document given its text), and search joins with
            // `exchanges`, so it is never shown. Ids are never reused.
            for id in t.exchangeIDs {
                open[id] = nil
                storedOpen.remove(id)
                if let s = deleteRow { try s.run([.integer(Int64(id))]) }
                else { try db.run("DELETE FROM exchanges WHERE id = ?", [.integer(Int64(id))]) }
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
        let begin = RecordPosition(segment: UInt64(bitPattern: s.int64(at: 0) ?? 0), offset: UInt64(bitPattern: s.int64(at: 1) ?? 0))
        let positions: [RecordPosition]
        if case .blob(let b) = s.value(at: 2) { positions = PositionList.decode(b, begin: begin) } else { positions = [] }
        let category = s.text(at: 3), tags = s.text(at: 4)
        guard case .begin(let b) = try reader.read(at: begin).record else { return nil }
        storedOpen.insert(id)
        var row = ExchangeRow(begin: b, position: begin)
        for p in positions {
            if case .chunk(let c) = try reader.read(at: p).record { row.add(chunk: c, position: p) }
        }
        if let category { row.values[ExchangeRow.C.category] = .text(category) }
        if let tags {
            row.tags = tags.split(separator: ",").map(String.init)
            row.values[ExchangeRow.C.tags] = .text(tags)
        }
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

    /// Writes a finished row (`withText`: its full-text document follows at the end of the transaction) or an
    /// open one (in flight).
    private func write(_ row: ExchangeRow, withText: Bool) throws {
        let id = UInt64(bitPattern: row.id)
        let replace = try insertRow ?? db.prepare(ExchangeRow.insertSQL)
        if let insertNew = insertNewRow, !storedOpen.contains(id) {
            do { try row.insert(with: insertNew, memo: rawMemo) } catch let e as SQLiteError where e.code & 0xff == SQLITE_CONSTRAINT {
                try row.insert(with: replace, memo: rawMemo)
            }
        } else {
            try row.insert(with: replace, memo: rawMemo)
        }
        if withText { storedOpen.remove(id) } else { storedOpen.insert(id) }
        guard withText else { return }
        if let k = PendingKeys(row) { pendingKeys.append(k) }
        let doc = row.searchDocument
        guard !doc.isEmpty else { return }
        pendingText.append((row.id, doc))
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

/// The `index_meta` row a rebuild holds while it runs: "<pid> <random>" of the rebuilding process, or
/// "0 <why>" once a rebuild failed.
enum RebuildMarker {
    static let key = "rebuilding"

    enum State: Equatable {
        case none
        /// A live process is rebuilding (who).
        case running(String)
        /// A rebuild stopped before its end (why): the index must be rebuilt.
        case interrupted(String)
    }

    static func newToken() -> String { "\(getpid()) \(UInt64.random(in: 0 ... .max))" }

    static func state(_ db: SQLiteConnection) throws -> State {
        guard let value = try IndexMeta.get(db, key)?.string else { return .none }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard let pid = parts.first.flatMap({ Int32($0) }), pid > 0 else {
            return .interrupted(parts.count > 1 ? String(parts[1]) : "unknown cause")
        }
        if kill(pid, 0) == 0 || errno == EPERM { return .running("pid \(pid)") }
        return .interrupted("process \(pid) ended before it finished")
    }
}

/// Work the reading thread of a bulk load hands to the writing thread, in log order.
enum BulkOp {
    /// A finished exchange; `document` is its full-text document when the full text is written by this thread.
    case write(ExchangeRow, document: [UInt8]?)
    case annotate(Annotation)
    case tombstone([UInt64])
    /// Commit point: the exchanges still open (written as in flight) and the last record read.
    case boundary(open: [ExchangeRow], last: StoredRecord, records: Int)
    case damage([String])
}

/// A bounded hand-off of batches from one producer thread to one consumer.
final class BulkChannel<Item>: @unchecked Sendable {
    private var items: [[Item]] = []
    private var isCancelled = false
    private let lock = DispatchSemaphore(value: 1)
    private let available = DispatchSemaphore(value: 0)
    private let space: DispatchSemaphore

    init(capacity: Int) { space = DispatchSemaphore(value: capacity) }

    func put(_ batch: [Item]) {
        space.wait()
        lock.wait(); items.append(batch); lock.signal()
        available.signal()
    }

    /// No more puts: the consumer's next `take` after the last batch returns nil.
    func finish() { available.signal() }

    func take() -> [Item]? {
        available.wait()
        lock.wait()
        defer { lock.signal() }
        guard !items.isEmpty else { return nil }
        let x = items.removeFirst()
        space.signal()
        return x
    }

    var cancelled: Bool { lock.wait(); defer { lock.signal() }; return isCancelled }
    func cancel() { lock.wait(); isCancelled = true; lock.signal() }
}

/// The full-text side of a bulk load: its own thread and connection writing a separate, journal-less database
/// file (`path`), so FTS5's tokenizing and segment writing run beside the row writer on the other core. The
/// rebuild copies its shadow tables into its build file at the end (`ExchangeIndex.adoptFullText`).
///
/// FTS5 keeps new entries in an in-memory hash until it holds `hashsize` bytes, then writes them as one segment,
/// and merges segments `automerge` (4) at a time. 64 MB makes a million-exchange rebuild write ~15 segments, each
/// rewritten about once by the merges (16 MB: ~60, rewritten 2–3 times): its full-text thread 52 → 41 s CPU.
final class FullTextBuilder: @unchecked Sendable {
    let path: String
    let channel = BulkChannel<(Int64, [UInt8])>(capacity: 64)
    private let done = DispatchSemaphore(value: 0)
    private var failure: Error?
    private var finished = false

    init(path: String) throws {
        self.path = path
        ExchangeIndex.removeFiles(path)
        let db = try SQLiteConnection(path: path)
        try db.execute("""
            PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;
            \(IndexSchema.fullTextTableSQL)
            INSERT INTO exchange_text(exchange_text, rank) VALUES('hashsize', \(64 << 20));
            """)
        let chan = channel
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            do {
                let insert = try db.prepareUncached(IndexSchema.insertTextSQL)
                try db.execute("BEGIN")
                var n = 0
                while let batch = chan.take() {
                    if chan.cancelled { continue }
                    for (id, doc) in batch {
                        try insert.run(rowid: id, text: doc)
                        n += 1
                        if n % 250_000 == 0 { try db.execute("COMMIT; BEGIN") }
                    }
                }
                try db.execute("COMMIT")
                RebuildTrace.mark("full-text thread done")
            } catch {
                failure = error
                chan.cancel()
                while chan.take() != nil {}
            }
            done.signal()
        }
    }

    /// Waits until the producer has finished the channel and the last document is written (or the thread
    /// failed); throws the thread's error. Once only matters: later calls return at once.
    func wait() throws {
        if !finished { done.wait(); finished = true }
        if let failure { throw failure }
    }
}

extension IndexUpdater {
    /// A rebuild's load into empty tables, on two or three threads: one reads the log and derives each exchange's
    /// row and full-text document (the CPU-heavy part), one writes the rows to SQLite in log order, and — with
    /// `fullText` — one writes the documents into that builder's own database file. Same rows, same watermark
    /// and commit points as `catchUp` (open exchanges are written as in flight at each commit).
    func bulkLoad(fullText: FullTextBuilder?, progress: ((Int, UInt64) -> Void)? = nil,
                  whileFullTextFinishes: () throws -> Void = {}) throws -> CatchUpReport {
        let chan = BulkChannel<BulkOp>(capacity: 16)
        let docs = fullText?.channel
        let reader = self.reader, batch = batchRecords, stop = stopBefore
        DispatchQueue.global(qos: .userInitiated).async {
            var open: [UInt64: ExchangeRow] = [:]
            var ops: [BulkOp] = []
            ops.reserveCapacity(256)
            var texts: [(Int64, [UInt8])] = []
            texts.reserveCapacity(256)
            var order = RowidOrder()
            var n = 0
            var last: StoredRecord?
            let it = reader.records(from: 0)
            while let r = it.next() {
                if let stop, r.sequence >= stop { break }
                switch r.record {
                case .begin(let b):
                    open[b.exchangeID] = ExchangeRow(begin: b, position: r.position)
                    if docs != nil { order.began(b.exchangeID) }
                case .chunk(let c):
                    if var row = open.removeValue(forKey: c.exchangeID) {
                        row.add(chunk: c, position: r.position)
                        open[c.exchangeID] = row
                    }
                case .end(let e):
                    if var row = open.removeValue(forKey: e.exchangeID) {
                        row.apply(end: e, position: r.position)
                        let doc = row.searchDocument
                        if docs != nil {
                            if !doc.isEmpty { order.add(row.id, doc) }
                            ops.append(.write(row, document: nil))
                        } else {
                            ops.append(.write(row, document: doc))
                        }
                    }
                case .annotation(let a):
                    if var row = open.removeValue(forKey: a.exchangeID) {
                        row.apply(annotation: a)
                        open[a.exchangeID] = row
                    } else {
                        ops.append(.annotate(a))
                    }
                case .tombstone(let t):
                    for id in t.exchangeIDs { open[id] = nil }
                    ops.append(.tombstone(t.exchangeIDs))
                }
                last = r
                n += 1
                if n % batch == 0 { ops.append(.boundary(open: Array(open.values), last: r, records: n)) }
                if ops.count >= 256 {
                    if chan.cancelled { break }
                    chan.put(ops)
                    ops = []
                }
                if docs != nil { order.ready(isOpen: { open[$0] != nil }, into: &texts) }
                if texts.count >= 256, let docs {
                    if docs.cancelled { break }
                    docs.put(texts)
                    texts = []
                }
            }
            order.drain(into: &texts)
            if let last, n % batch != 0 { ops.append(.boundary(open: Array(open.values), last: last, records: n)) }
            ops.append(.damage(it.damage.map(\.description)))
            if let docs {
                if !texts.isEmpty { docs.put(texts) }
                docs.finish()
            }
            chan.put(ops)
            chan.finish()
            RebuildTrace.mark("reader thread done")
        }

        var report = CatchUpReport()
        var failure: Error?
        do {
            try db.execute("BEGIN IMMEDIATE")
            let insertRow = try db.prepareUncached(ExchangeRow.insertSQL)
            let insertText = try db.prepareUncached(IndexSchema.insertTextSQL)
            let deleteRow = try db.prepareUncached("DELETE FROM exchanges WHERE id = ?")
            let insertKeys = try db.prepareUncached(IndexSchema.insertKeysSQL)
            var keys: [PendingKeys] = []
            while let ops = chan.take() {
                for op in ops {
                    switch op {
                    case .write(let row, let doc):
                        try row.insert(with: insertRow, memo: rawMemo)
                        if let k = PendingKeys(row) { keys.append(k) }
                        if let doc, !doc.isEmpty { try insertText.run(rowid: row.id, text: doc) }
                        report.exchanges += 1
                    case .annotate(let a):
                        try annotateStored(a)
                    case .tombstone(let ids):
                        for id in ids { try deleteRow.run([.integer(Int64(id))]) }
                    case .boundary(let openRows, let last, let records):
                        for row in openRows { try row.insert(with: insertRow, memo: rawMemo) }
                        try PendingKeys.insert(&keys, with: insertKeys)
                        try IndexMeta.setWatermark(db, after: last)
                        try db.execute("COMMIT")
                        report.records = records
                        report.watermark = last.sequence + 1
                        progress?(records, last.sequence)
                        try db.execute("BEGIN IMMEDIATE")
                    case .damage(let d):
                        report.damage = d
                    }
                }
            }
            try PendingKeys.insert(&keys, with: insertKeys)
            try db.execute("COMMIT")
            // The full-text thread is usually still busy here: the rows' own finishing work (secondary indexes)
            // runs meanwhile, on this core.
            try whileFullTextFinishes()
            try fullText?.wait()
        } catch {
            failure = error
            try? db.execute("ROLLBACK")
            chan.cancel()
            docs?.cancel()
            while chan.take() != nil {}
            // The reader has finished both channels; the full-text thread skips what is left and exits.
            try? fullText?.wait()
        }
        if let failure { throw failure }
        committed = report.watermark
        open.removeAll()
        return report
    }
}

/// Full-text documents of a bulk load in increasing rowid order. FTS5 flushes its in-memory terms to a new
/// segment whenever a rowid is smaller than the one before (SQLite 3.40 `sqlite3Fts5IndexBeginWrite`), and
/// exchanges end — so their documents are made — out of id order whenever traffic was concurrent: handed over in
/// log order, a real history's rebuild would write a tiny segment per overlap and merge them all again.
///
/// A document is held until no exchange with a smaller id can still end: ids are given out in begin order, so
/// that is when every exchange begun before it has ended (`openIDs`, in begin order, is the queue of candidates).
/// An exchange that never ends (its end lost) would hold everything back: past `limit` held documents the
/// smallest go anyway (at worst one flush each).
struct RowidOrder {
    private var heap: [(Int64, [UInt8])] = []
    private var openIDs: [UInt64] = []
    private var head = 0
    let limit: Int

    init(limit: Int = 50_000) { self.limit = limit }

    var held: Int { heap.count }

    mutating func began(_ id: UInt64) { openIDs.append(id) }

    mutating func add(_ id: Int64, _ doc: [UInt8]) {
        heap.append((id, doc))
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard heap[i].0 < heap[p].0 else { break }
            heap.swapAt(i, p)
            i = p
        }
    }

    /// Moves the documents that may go now to `out`, smallest id first.
    mutating func ready(isOpen: (UInt64) -> Bool, into out: inout [(Int64, [UInt8])]) {
        guard let top = heap.first else { return }
        while head < openIDs.count && !isOpen(openIDs[head]) { head += 1 }
        if head >= 4096 && head * 2 >= openIDs.count { openIDs.removeFirst(head); head = 0 }
        let floor = head < openIDs.count ? Int64(bitPattern: openIDs[head]) : Int64.max
        guard top.0 < floor || heap.count > limit else { return }
        while let t = heap.first, t.0 < floor || heap.count > limit { out.append(popMin()) }
    }

    /// Every document still held, smallest id first.
    mutating func drain(into out: inout [(Int64, [UInt8])]) {
        while !heap.isEmpty { out.append(popMin()) }
    }

    private mutating func popMin() -> (Int64, [UInt8]) {
        let n = heap.count - 1
        heap.swapAt(0, n)
        let min = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && heap[l].0 < heap[m].0 { m = l }
            if r < n && heap[r].0 < heap[m].0 { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return min
    }
}

/// A row's `exchange_keys` document (its chatcmpl and request id; the document itself is computed by SQLite,
/// `IndexSchema.insertKeysSQL`). Inserted in rowid order at the end of a transaction, as the full-text documents
/// are (FTS5 flushes its pending terms whenever a rowid goes down).
struct PendingKeys {
    var id: Int64
    var chatcmpl: SQLiteValue
    var requestID: SQLiteValue

    /// Nil when the row has neither id.
    init?(_ row: ExchangeRow) {
        chatcmpl = row.values[ExchangeRow.C.chatcmpl]
        requestID = row.values[ExchangeRow.C.requestID]
        guard chatcmpl != .null || requestID != .null else { return nil }
        id = row.id
    }

    static func insert(_ keys: inout [PendingKeys], with s: SQLiteStatement) throws {
        guard !keys.isEmpty else { return }
        keys.sort { $0.id < $1.id }
        for k in keys {
            s.reset()
            try s.bind(.integer(k.id), at: 1)
            try s.bind(k.chatcmpl, at: 2)
            try s.bind(k.requestID, at: 3)
            try s.step()
        }
        s.reset()
        keys.removeAll(keepingCapacity: keys.count <= 4096)
    }
}
