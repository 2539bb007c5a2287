import PalaceLog

/// Forgets exchanges whose log segments are gone: `LogRetention` (`start --retention-max-age/--retention-max-size`)
/// deletes whole sealed segments, oldest first, behind the index's back. Every catch-up (the tailer in `start`, each
/// read command) calls `sweepRemovedSegments()` first, so `list` never shows an exchange whose bodies are gone.
///
/// Invariants:
/// - The log is a contiguous suffix of segments and exchange ids grow with the position of their begin record, so
///   the rows to drop are exactly the lowest ids up to the first row whose begin lies in a remaining segment: the
///   sweep reads only those rows (by primary key), never the whole table.
/// - The rows go in one transaction with the `swept_segment` mark (the first segment the index has accounted
///   for); with that mark current, a catch-up pays one directory listing and one point lookup.
/// - Their full-text entries stay behind, unreachable: the FTS table is contentless, and SQLite (3.40 here) can
///   only forget a contentless document given its text, which went with the segment. Search joins with
///   `exchanges`, so they are never shown (as after a tombstone); `index rebuild` drops them.
/// - When the last record the index read was in a removed segment, the index is behind the log, not ahead of it:
///   its fingerprint is cleared so the next catch-up carries on from the first remaining record instead of taking
///   the retention for a restored backup and rebuilding everything.
extension ExchangeIndex {
    static let sweptSegmentKey = "swept_segment"

    /// Drops the rows (and in-memory open exchanges) whose begin record was in a segment that no longer exists.
    /// Returns how many rows went.
    @discardableResult
    public func sweepRemovedSegments() throws -> Int {
        guard let first = try? reader.segments().first else { return 0 }
        // Open exchanges this process holds in memory may have lost their begin to a sweep another process did.
        if updater.open.values.contains(where: { $0.begin.segment < first }) {
            updater.open = updater.open.filter { $0.value.begin.segment >= first }
        }
        if let mark = try IndexMeta.get(db, Self.sweptSegmentKey)?.int64, UInt64(mark) == first { return 0 }
        return try db.transaction {
            if let mark = try IndexMeta.get(db, Self.sweptSegmentKey)?.int64, UInt64(mark) == first { return 0 }
            var gone: [Int64] = []
            let scan = try db.prepareUncached("SELECT id, begin_segment FROM exchanges ORDER BY id")
            while try scan.step() {
                guard let id = scan.int64(at: 0), let segment = scan.int64(at: 1) else { continue }
                if UInt64(bitPattern: segment) >= first { break }
                gone.append(id)
            }
            scan.reset()
            if !gone.isEmpty {
                let delete = try db.prepareUncached("DELETE FROM exchanges WHERE id = ?")
                for id in gone { try delete.run([.integer(id)]) }
            }
            if let fp = try IndexMeta.fingerprint(db), fp.position.segment < first {
                try db.run("DELETE FROM index_meta WHERE key IN ('last_sequence', 'last_segment', 'last_offset', 'last_timestamp')")
            }
            try IndexMeta.set(db, Self.sweptSegmentKey, .integer(Int64(bitPattern: first)))
            return gone.count
        }
    }

    /// Why exchange `id` cannot be shown although ids below the log's first exchange existed: nil when `id` is
    /// not below the first exchange still in the log. For "not found" messages (`inspect`, the web admin).
    public func removedFromLog(id: Int64) -> String? {
        // The first segment of a log is number 1: a later one means older segments were removed.
        guard id > 0, let firstSegment = try? reader.segments().first, firstSegment > 1,
              let first = firstExchangeInLog(), UInt64(id) < first else { return nil }
        return "exchange \(id) is no longer in the log: its segment was removed (retention, "
            + "--retention-max-age/--retention-max-size); the log now starts at exchange \(first)"
    }

    /// The id of the first exchange whose begin record is still in the log (reads the first segment's head).
    func firstExchangeInLog() -> UInt64? {
        let it = reader.records(from: 0)
        var read = 0
        while let r = it.next(), read < 100_000 {
            read += 1
            if case .begin(let b) = r.record { return b.exchangeID }
        }
        return nil
    }
}
