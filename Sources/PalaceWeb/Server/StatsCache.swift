import PalaceIndex
import Synchronization

/// Stats tables already computed, by filter and index watermark: while nothing new was indexed, the stats page
/// answers from here instead of another pass over the index (a live proxy moves the watermark with every record,
/// and the next request computes afresh). Relative bounds (`30d`) are keyed to the minute, so a cached table's
/// range may lag the clock by up to a minute.
final class StatsCache: Sendable {
    static let capacity = 8
    private let entries = Mutex<[(key: String, table: StatsTable)]>([])

    static func key(_ q: ListQuery, watermark: UInt64) -> String {
        let minute: Int64 = 60_000_000
        return [String(watermark), q.since.map { String($0 / minute) } ?? "", q.until.map { String($0 / minute) } ?? "",
                q.chatOnly ? "chat" : "", q.text ?? "", q.predicates.joined(separator: "\u{1}")].joined(separator: "\u{0}")
    }

    func table(_ key: String) -> StatsTable? {
        entries.withLock { list in list.first { $0.key == key }?.table }
    }

    func store(_ key: String, _ table: StatsTable) {
        entries.withLock { list in
            list.removeAll { $0.key == key }
            list.insert((key, table), at: 0)
            if list.count > Self.capacity { list.removeLast(list.count - Self.capacity) }
        }
    }
}
