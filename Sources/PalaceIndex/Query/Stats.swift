#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSQLite

/// Per model and day (local time): requests, errors, tokens, p50/p95 latency and TTFT.
public struct StatsRow: Sendable, Equatable {
    public var day: String
    public var model: String
    public var requests = 0
    public var errors = 0
    public var promptTokens = 0
    public var completionTokens = 0
    public var cachedTokens = 0
    public var latencyP50: Double?
    public var latencyP95: Double?
    public var ttftP50: Double?
    public var ttftP95: Double?
}

/// Stats rows per model and local day, or per model and local hour (`day` then holds `YYYY-MM-DD HH`).
public struct StatsTable: Sendable, Equatable {
    public var rows: [StatsRow]
    /// When `rows` are per hour: every local hour from the first to the last with traffic, in order; nil per day.
    public var hours: [String]?
}

extension ExchangeIndex {
    /// Aggregates over the exchanges `q` selects (its limit is ignored). Rows sorted by day, then model.
    /// "Error" is MoonPalace's notion: no status, status ≥ 400, or a proxy error.
    public func stats(_ q: ListQuery) throws -> [StatsRow] {
        try statsTable(q, hourlyUpToDays: 0).rows
    }

    /// Like `stats`, per hour instead of per day when the selected traffic spans at most `hourlyUpToDays` local days
    /// (at most `maxHours` hours from the first with traffic).
    ///
    /// One pass over the selected rows, reading integer columns only (times and durations as stored, in µs; the
    /// model's bytes compared in place): rows are bucketed by UTC quarter hour — local hours and days start on a
    /// quarter hour in every time zone — and each quarter hour is turned into its local hour once. Percentiles
    /// stay exact (nearest rank over each group's values).
    public func statsTable(_ q: ListQuery, hourlyUpToDays: Int, maxHours: Int = 80) throws -> StatsTable {
        var all = q
        all.limit = nil
        let select = """
            SELECT started_at, model, (status IS NULL OR status >= 400 OR error IS NOT NULL), prompt_tokens,
                   completion_tokens, cached_tokens, latency_us, ttft_us
            FROM exchanges
            """
        var acc = StatsAccumulator()
        if q.predicates.isEmpty && (q.text ?? "").isEmpty {
            let f = all.filters
            let s = try db.prepareUncached(select + " WHERE \(f.text)")
            try s.bind(f.params)
            while try s.step() { acc.add(s.handle) }
        } else {
            let ids = try self.ids(all)
            let s = try db.prepare(select + " WHERE id = ?")
            for id in ids {
                try s.bind([.integer(id)])
                if try s.step() { acc.add(s.handle) }
                s.reset()
            }
        }
        return acc.table(hourlyUpToDays: hourlyUpToDays, maxHours: maxHours)
    }

    /// Nearest-rank percentile of sorted values.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[max(0, min(sorted.count - 1, rank - 1))]
    }
}

/// Sums and value lists per (local hour, model) for `statsTable`.
struct StatsAccumulator {
    static let quarterHour: Int64 = 900_000_000
    struct Group {
        var requests = 0, errors = 0, prompt = 0, completion = 0, cached = 0
        var latencies: [Int64] = []
        var ttfts: [Int64] = []
        mutating func merge(_ g: Group) {
            requests += g.requests; errors += g.errors; prompt += g.prompt; completion += g.completion; cached += g.cached
            latencies += g.latencies; ttfts += g.ttfts
        }
    }
    struct Key: Hashable { var hour: Int64; var model: Int }
    /// Local hour as `YYYYMMDDHH`.
    private var hourOfQuarter: [Int64: Int64] = [:]
    private var lastQuarter: Int64 = .min, lastHour: Int64 = 0
    private(set) var models: [(bytes: [UInt8], name: String)] = []
    private var lastModel = -1
    private(set) var groups: [Key: Group] = [:]

    mutating func add(_ h: OpaquePointer) {
        let at = sqlite3_column_int64(h, 0)
        let quarter = at >= 0 ? at / Self.quarterHour : (at - Self.quarterHour + 1) / Self.quarterHour
        if quarter != lastQuarter {
            lastQuarter = quarter
            if let hour = hourOfQuarter[quarter] { lastHour = hour } else {
                lastHour = Self.localHour(quarter * (Self.quarterHour / 1_000_000))
                hourOfQuarter[quarter] = lastHour
            }
        }
        let model = modelIndex(h)
        let key = Key(hour: lastHour, model: model)
        groups[key, default: Group()].add(h)
    }

    /// The index of the row's model in `models` ("-" for none), found by comparing bytes (no string per row).
    private mutating func modelIndex(_ h: OpaquePointer) -> Int {
        let n = Int(sqlite3_column_bytes(h, 1))
        let p = sqlite3_column_type(h, 1) == SQLITE_NULL ? nil : sqlite3_column_text(h, 1)
        func same(_ i: Int) -> Bool {
            let m = models[i].bytes
            guard let p else { return m.isEmpty && models[i].name == "-" }
            return m.count == n && (n == 0 || m.withUnsafeBufferPointer { memcmp($0.baseAddress!, p, n) == 0 })
        }
        if lastModel >= 0 && same(lastModel) { return lastModel }
        if let i = models.indices.first(where: same) { lastModel = i; return i }
        let bytes = p.map { Array(UnsafeBufferPointer(start: $0, count: n)) } ?? []
        models.append((bytes, p == nil ? "-" : String(decoding: bytes, as: UTF8.self)))
        lastModel = models.count - 1
        return lastModel
    }

    static func localHour(_ seconds: Int64) -> Int64 {
        var t = time_t(seconds)
        var p = tm()
        localtime_r(&t, &p)
        return ((Int64(p.tm_year) + 1900) * 100 + Int64(p.tm_mon) + 1) * 10_000 + Int64(p.tm_mday) * 100 + Int64(p.tm_hour)
    }

    static func pad(_ n: Int64, _ width: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// `YYYY-MM-DD` of a `YYYYMMDD` day.
    static func dayText(_ day: Int64) -> String {
        pad(day / 10_000, 4) + "-" + pad(day / 100 % 100, 2) + "-" + pad(day % 100, 2)
    }

    func table(hourlyUpToDays: Int, maxHours: Int) -> StatsTable {
        let days = Set(groups.keys.map { $0.hour / 100 })
        if hourlyUpToDays > 0 && !days.isEmpty && days.count <= hourlyUpToDays, let hours = hourRange(maxHours: maxHours) {
            let shown = Set(hours.map(\.0))
            var rows: [StatsRow] = []
            for (key, g) in groups where shown.contains(key.hour) {
                rows.append(row(g, day: Self.dayText(key.hour / 100) + " " + Self.pad(key.hour % 100, 2), model: key.model))
            }
            let order = Dictionary(hours.enumerated().map { ($0.element.0, $0.offset) }, uniquingKeysWith: { a, _ in a })
            rows.sort { (order[Self.hourKey($0.day)] ?? 0, $0.model) < (order[Self.hourKey($1.day)] ?? 0, $1.model) }
            return StatsTable(rows: rows, hours: hours.map(\.1))
        }
        var byDay: [Key: Group] = [:]
        for (key, g) in groups { byDay[Key(hour: key.hour / 100, model: key.model), default: Group()].merge(g) }
        let rows = byDay.map { row($0.value, day: Self.dayText($0.key.hour), model: $0.key.model) }
        return StatsTable(rows: rows.sorted { ($0.day, $0.model) < ($1.day, $1.model) }, hours: nil)
    }

    static func hourKey(_ text: String) -> Int64 {
        Int64(text.filter(\.isNumber)) ?? 0
    }

    /// Local hours (`YYYYMMDDHH`, `YYYY-MM-DD HH`) from the first with traffic to the last, at most `maxHours`.
    private func hourRange(maxHours: Int) -> [(Int64, String)]? {
        guard let firstQuarter = hourOfQuarter.keys.min(), let lastQuarter = hourOfQuarter.keys.max() else { return nil }
        let used = Set(groups.keys.map(\.hour))
        var out: [(Int64, String)] = []
        var seconds = firstQuarter * (Self.quarterHour / 1_000_000)
        let end = lastQuarter * (Self.quarterHour / 1_000_000)
        while seconds <= end && out.count < maxHours {
            let h = Self.localHour(seconds)
            if out.last?.0 != h { out.append((h, Self.dayText(h / 100) + " " + Self.pad(h % 100, 2))) }
            seconds += Self.quarterHour / 1_000_000
        }
        guard let lo = out.firstIndex(where: { used.contains($0.0) }), let hi = out.lastIndex(where: { used.contains($0.0) }) else { return nil }
        return Array(out[lo...hi])
    }

    private func row(_ g: Group, day: String, model: Int) -> StatsRow {
        var r = StatsRow(day: day, model: models[model].name)
        r.requests = g.requests; r.errors = g.errors
        r.promptTokens = g.prompt; r.completionTokens = g.completion; r.cachedTokens = g.cached
        let l = g.latencies.sorted().map { Double($0) / 1000 }, t = g.ttfts.sorted().map { Double($0) / 1000 }
        r.latencyP50 = ExchangeIndex.percentile(l, 0.50); r.latencyP95 = ExchangeIndex.percentile(l, 0.95)
        r.ttftP50 = ExchangeIndex.percentile(t, 0.50); r.ttftP95 = ExchangeIndex.percentile(t, 0.95)
        return r
    }
}

extension StatsAccumulator.Group {
    mutating func add(_ h: OpaquePointer) {
        requests += 1
        errors += Int(sqlite3_column_int64(h, 2))
        prompt += Int(sqlite3_column_int64(h, 3))
        completion += Int(sqlite3_column_int64(h, 4))
        cached += Int(sqlite3_column_int64(h, 5))
        if sqlite3_column_type(h, 6) != SQLITE_NULL { latencies.append(sqlite3_column_int64(h, 6)) }
        if sqlite3_column_type(h, 7) != SQLITE_NULL { ttfts.append(sqlite3_column_int64(h, 7)) }
    }
}
