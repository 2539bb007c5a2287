import Testing
@testable import PalaceIndex
#if canImport(Glibc)
import Glibc
#endif

/// A real SQLite index file in a temp dir with hand-made rows, for testing predicates without a log.
/// `texts` plays the log: what `PredicateScan` loads for rows the index cannot decide.
final class PredicateFixture {
    let dir: String
    let db: SQLiteConnection
    var texts: [Int64: RecordTexts] = [:]

    init() throws {
        var template = Array("/tmp/palaceindex-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        dir = String(cString: p!)
        db = try SQLiteConnection(path: dir + "/index.sqlite")
        try db.configureForIndex()
        try IndexSchema.migrate(db)
    }

    deinit { _ = system("rm -rf '\(dir)'") }

    /// Inserts a row. `skeleton == false` leaves the bodies' JSON validity unknown to the index (json_state 12),
    /// so the check decides it from the text too.
    func insert(id: Int64, status: Int? = 200, requestBody: String? = nil, responseBody: String? = nil,
                responseHeader: String? = nil, model: String? = nil, skeleton: Bool = true,
                extra: [String: SQLiteValue] = [:]) throws {
        func valid(_ s: String?) throws -> Bool {
            guard let s else { return false }
            return try db.scalar("SELECT json_valid(?)", [.text(s)])?.int64 == 1
        }
        let state: Int64 = skeleton ? (try valid(requestBody) ? 1 : 0) | (try valid(responseBody) ? 2 : 0) : 12
        var cols: [String: SQLiteValue] = [
            "id": .integer(id), "state_code": .integer(0), "status": status.map { .integer(Int64($0)) } ?? .null,
            "codes": .integer(1 | 1 << 3), "started_at": .integer(1_700_000_000_000_000 + id * 1_000_000),
            "stream": .integer(0), "model": model.map(SQLiteValue.text) ?? .null, "begin_segment": .integer(0),
            "begin_offset": .integer(0), "json_state": .integer(state),
        ]
        for (k, v) in extra { cols[k] = v }
        let names = cols.keys.sorted()
        try db.run("INSERT INTO exchanges (\(names.map { "\"\($0)\"" }.joined(separator: ","))) VALUES (\(names.map { _ in "?" }.joined(separator: ",")))",
                   names.map { cols[$0]! })
        texts[id] = RecordTexts(requestBody: requestBody, responseBody: responseBody, requestHeader: nil,
                                responseHeader: responseHeader)
    }

    /// Ids matching `predicates` through the planner (pushdown + residual), newest first.
    func select(_ predicates: [String], limit: Int? = nil) throws -> [Int64] {
        let plan = try PredicatePlan.compile(predicates)
        let scan = PredicateScan(db: db, plan: plan, load: { cands in
            var out: [Int64: RecordTexts] = [:]
            for c in cands { out[c.id] = self.texts[c.id] }
            return out
        })
        return try scan.ids(limit: limit)
    }

    /// Ids matching by deciding every row through the residual check alone (the full scan).
    func fullScan(_ predicates: [String]) throws -> [Int64] {
        let plan = try PredicatePlan.compile(predicates)
        let check = try ResidualCheck(db: db)
        let ids = try db.query("SELECT id FROM exchanges ORDER BY id DESC").compactMap { $0[0].int64 }
        return try ids.filter { try check.matches(id: $0, texts: texts[$0] ?? RecordTexts(), plan: plan) }
    }
}
