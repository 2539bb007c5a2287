import Testing
import PalaceLog
@testable import PalaceIndex

/// `statsTable` (one pass, quarter-hour buckets turned into local hours) agrees with the straightforward reference:
/// SQLite's own local-time day/hour of every row, and nearest-rank percentiles over each group's `latency_ms` /
/// `ttft_ms` values.
@Suite struct StatsTests {
    static func reference(_ index: ExchangeIndex, _ q: ListQuery, format: String) throws -> [StatsRow] {
        let f = q.filters
        let rows = try index.db.query("""
            SELECT strftime('\(format)', started_at / 1000000, 'unixepoch', 'localtime'), coalesce(model, '-'),
                   (status IS NULL OR status >= 400 OR error IS NOT NULL), coalesce(prompt_tokens, 0),
                   coalesce(completion_tokens, 0), coalesce(cached_tokens, 0), latency_ms, ttft_ms
            FROM exchanges WHERE \(f.text)
            """, f.params)
        var groups: [String: (StatsRow, [Double], [Double])] = [:]
        for v in rows {
            let day = v[0].string ?? "", model = v[1].string ?? "-"
            var g = groups[day + "\u{0}" + model] ?? (StatsRow(day: day, model: model), [], [])
            g.0.requests += 1
            g.0.errors += Int(v[2].int64 ?? 0)
            g.0.promptTokens += Int(v[3].int64 ?? 0)
            g.0.completionTokens += Int(v[4].int64 ?? 0)
            g.0.cachedTokens += Int(v[5].int64 ?? 0)
            if let l = v[6].double { g.1.append(l) }
            if let t = v[7].double { g.2.append(t) }
            groups[day + "\u{0}" + model] = g
        }
        return groups.values.map { g in
            var r = g.0
            let l = g.1.sorted(), t = g.2.sorted()
            r.latencyP50 = ExchangeIndex.percentile(l, 0.50); r.latencyP95 = ExchangeIndex.percentile(l, 0.95)
            r.ttftP50 = ExchangeIndex.percentile(t, 0.50); r.ttftP95 = ExchangeIndex.percentile(t, 0.95)
            return r
        }.sorted { ($0.day, $0.model) < ($1.day, $1.model) }
    }

    @Test func dailyAndHourlyRowsMatchTheReference() async throws {
        let fx = try LogFixture()
        let w = try fx.openWriter()
        try await TrafficGenerator(seed: 11).write(count: 1500, to: w, days: 40)
        // exchanges without a model, without an end (no status: an error), and failed upstream
        try await fx.chat(model: "", end: false)
        try await fx.chat(model: "kimi-k2", status: 502)
        try await fx.closeWriter()
        let index = try fx.index()
        _ = try index.catchUp()

        let daily = try index.statsTable(ListQuery(limit: nil), hourlyUpToDays: 3)
        #expect(daily.hours == nil && daily.rows.count > 40)
        #expect(daily.rows == (try Self.reference(index, ListQuery(limit: nil), format: "%Y-%m-%d")))
        #expect(try index.stats(ListQuery(limit: nil)) == daily.rows)
        #expect(daily.rows.reduce(0) { $0 + $1.requests } == 1502)

        // The last two days: per hour, every hour from the first to the last with traffic.
        let now = TimeExpression.nowMicros()
        let recent = ListQuery(limit: nil, since: now - 2 * 86_400_000_000)
        let hourly = try index.statsTable(recent, hourlyUpToDays: 3)
        let hours = try #require(hourly.hours)
        #expect(hourly.rows == (try Self.reference(index, recent, format: "%Y-%m-%d %H")))
        #expect(hours.count >= Set(hourly.rows.map(\.day)).count && hours.count <= 49)
        #expect(hours == hours.sorted() && hours.first == hourly.rows.first?.day && hours.last == hourly.rows.map(\.day).max())

        // A predicate selects through the id list; the same aggregation applies.
        let errors = ListQuery(limit: nil, predicates: ["status >= 400"])
        let e = try index.statsTable(errors, hourlyUpToDays: 0).rows
        #expect(!e.isEmpty && e.allSatisfy { $0.errors == $0.requests })
        #expect(e.reduce(0) { $0 + $1.requests } == (try index.ids(errors)).count)
    }
}
