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

    /// Inserts a row. `skeleton == false` leaves the JSON skeletons out (json_state 3), so every body-path
    /// comparison must be decided by the residual check.
    func insert(id: Int64, status: Int? = 200, requestBody: String? = nil, responseBody: String? = nil,
                responseHeader: String? = nil, model: String? = nil, skeleton: Bool = true,
                extra: [String: SQLiteValue] = [:]) throws {
        func jsonOrNull(_ s: String?) throws -> SQLiteValue {
            guard let s, try db.scalar("SELECT json_valid(?)", [.text(s)])?.int64 == 1 else { return .null }
            return .text(s)
        }
        var cols: [String: SQLiteValue] = [
            "id": .integer(id), "state": .text("complete"), "status": status.map { .integer(Int64($0)) } ?? .null,
            "method": .text("POST"), "path": .text("/v1/chat/completions"), "query": .text(""),
            "started_at": .integer(1_700_000_000_000_000 + id * 1_000_000), "stream": .integer(0),
            "model": model.map(SQLiteValue.text) ?? .null, "begin_segment": .integer(0), "begin_offset": .integer(0),
            "req_json": skeleton ? try jsonOrNull(requestBody) : .null,
            "resp_json": skeleton ? try jsonOrNull(responseBody) : .null,
            "json_state": .integer(skeleton ? 0 : 3),
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
        let scan = PredicateScan(db: db, plan: plan, residual: try ResidualCheck(db: db), load: { self.texts[$0] })
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
