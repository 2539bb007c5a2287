import PalaceIndex
import Synchronization

/// Stats tables already computed, per filter (as the user wrote it: `since=30d`, not the instant it resolves to).
///
/// A table is computed in one pass over every selected row (≈ 2 s at a million exchanges). While nothing new was
/// indexed (same watermark, same resolved range to the minute) a request is answered from here. A live proxy moves
/// the watermark with every record, so the table is then *stale*: for up to `maxStaleSeconds` it is still shown at
/// once — labelled with its age — and one refresh runs in the background (never two for the same filter); the next
/// request shows the refreshed table. Older than that, the request computes afresh.
final class StatsCache: Sendable {
    static let capacity = 8
    static let maxStaleSeconds: Int64 = 600

    struct Entry: Sendable {
        var exact: String
        var table: StatsTable
        var computedAt: Int64
        var refreshing = false
    }

    /// What `lookup` found.
    enum Found: Sendable {
        case fresh(StatsTable)
        /// The table and how many seconds old it is; `refresh` is true for the one caller that should recompute.
        case stale(StatsTable, ageSeconds: Int64, refresh: Bool)
        case none
    }

    private let entries = Mutex<[(family: String, entry: Entry)]>([])

    /// Identifies the exact table: the watermark, and the resolved range to the minute.
    static func key(_ q: ListQuery, watermark: UInt64) -> String {
        let minute: Int64 = 60_000_000
        return [String(watermark), q.since.map { String($0 / minute) } ?? "", q.until.map { String($0 / minute) } ?? "",
                q.chatOnly ? "chat" : "", q.text ?? "", q.predicates.joined(separator: "\u{1}")].joined(separator: "\u{0}")
    }

    func lookup(family: String, exact: String, now: Int64) -> Found {
        entries.withLock { list in
            guard let i = list.firstIndex(where: { $0.family == family }) else { return .none }
            let e = list[i].entry
            if e.exact == exact { return .fresh(e.table) }
            let age = max(0, (now - e.computedAt) / 1_000_000)
            guard age <= Self.maxStaleSeconds else { return .none }
            let refresh = !e.refreshing
            if refresh { list[i].entry.refreshing = true }
            return .stale(e.table, ageSeconds: age, refresh: refresh)
        }
    }

    func store(family: String, exact: String, table: StatsTable, computedAt: Int64) {
        entries.withLock { list in
            list.removeAll { $0.family == family }
            list.insert((family, Entry(exact: exact, table: table, computedAt: computedAt)), at: 0)
            if list.count > Self.capacity { list.removeLast(list.count - Self.capacity) }
        }
    }

    /// A background refresh failed: let a later request try again.
    func refreshFailed(family: String) {
        entries.withLock { list in
            if let i = list.firstIndex(where: { $0.family == family }) { list[i].entry.refreshing = false }
        }
    }
}
