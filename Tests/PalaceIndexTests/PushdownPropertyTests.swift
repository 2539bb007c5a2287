import Testing
import PalaceLog
@testable import PalaceIndex

/// Law: for any predicate, pushdown (SQL over the index + residual check of uncertain rows) selects exactly
/// the rows a full scan selects (every row decided from its decoded record). Random exchanges have long strings
/// (truncated in the skeleton), missing fields, streams, errors; random predicates mix every operator.
@Suite struct PushdownPropertyTests {
    struct RNG {
        var s: UInt64
        mutating func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s >> 33 }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ xs: [T]) -> T { xs[int(xs.count)] }
    }

    static let words = ["alpha", "Beta", "gamma", "数据", "模型回答", "x", "data:", "long " + String(repeating: "z", count: 40),
                        "it's", "50%", "under_score", "\\d+"]
    static let models = ["kimi-k2", "moonshot-v1-8k", "kimi-latest"]

    static func writeRandomLog(_ f: LogFixture, count: Int, rng: inout RNG) async throws {
        for _ in 0..<count {
            let extra = rng.int(3) == 0 ? ",\"max_tokens\":\(rng.int(2000))" : (rng.int(2) == 0 ? ",\"tools\":[{\"type\":\"function\"}]" : "")
            try await f.chat(model: rng.pick(models), user: rng.pick(words) + " " + rng.pick(words),
                             answer: rng.pick(words) + (rng.int(2) == 0 ? String(repeating: " more", count: rng.int(10)) : ""),
                             status: [200, 200, 200, 400, 429, 500][rng.int(6)], stream: rng.int(2) == 0,
                             systemPrompt: rng.int(2) == 0 ? rng.pick(words) : nil, finish: rng.pick(["stop", "length"]),
                             latencyMs: Int64(rng.int(5000)), end: rng.int(10) != 0,
                             failure: rng.int(15) == 0 ? ExchangeFailure(step: "connect", message: "refused") : nil,
                             extraRequest: extra)
        }
    }

    static func literal(_ rng: inout RNG) -> String {
        switch rng.int(6) {
        case 0: return String(rng.int(600))
        case 1: return "'" + rng.pick(words).replacing("'", with: "") + "'"
        case 2: return "\"" + rng.pick(models) + "\""
        case 3: return rng.pick(["true", "false"])
        case 4: return "\(rng.int(100)).5"
        default: return "'\(rng.pick(["stop", "length", "user", "system", "assistant", "200"]))'"
        }
    }

    static func comparison(_ rng: inout RNG) -> String {
        let fields = ["status", "model", "stream", "total_tokens", "latency_ms", "finish_reason", "state", "error_step",
                      "request_body.messages.0.role", "request_body.messages.-1.content", "request_body.model",
                      "request_body.max_tokens", "request_body.tools.0.type", "response_body.choices.0.message.content",
                      "response_body.choices.0.finish_reason", "response_body.usage.total_tokens", "response_body.id",
                      "response_body", "request_header", "chatcmpl", "id", "response_status_code", "moonshot_id",
                      "request_body.messages", "response_body.choices.0.message"]
        let f = rng.pick(fields)
        switch rng.int(9) {
        case 0: return "\(f) == \(literal(&rng))"
        case 1: return "\(f) != \(literal(&rng))"
        case 2: return "\(f) \(rng.pick([">", ">=", "<", "<="])) \(literal(&rng))"
        case 3: return "\(f) \(rng.pick(["==", "!="])) null"
        case 4: return "\(f) \(rng.pick(["~", "!~"])) '\(rng.pick(["*", ""]))\(rng.pick(words).prefix(4).replacing("'", with: ""))\(rng.pick(["*", ""]))'"
        case 5: return "\(f) \(rng.pick(["%", "!%"])) '\(rng.pick(["^a", "d+", "[0-9]", "型", "^chatcmpl-"]))'"
        case 6: return "\(f) \(rng.pick(["@", "!@"])) [\(literal(&rng)), \(literal(&rng))]"
        default: return "\(f) == \(literal(&rng))"
        }
    }

    static func predicate(_ rng: inout RNG, depth: Int = 0) -> String {
        if depth > 2 || rng.int(3) == 0 { return comparison(&rng) }
        let n = 2 + rng.int(2)
        let parts = (0..<n).map { _ in predicate(&rng, depth: depth + 1) }
        let joined = parts.enumerated().map { i, p in i == 0 ? p : (rng.int(2) == 0 ? "&& " : "|| ") + p }.joined(separator: " ")
        return depth == 0 ? joined : "(" + joined + ")"
    }

    @Test func pushdownEqualsFullScan() async throws {
        var rng = RNG(s: 20261123)
        let f = try LogFixture()
        try await Self.writeRandomLog(f, count: 90, rng: &rng)
        let idx = try f.index()
        try idx.catchUp()
        let all = try idx.db.query("SELECT id FROM exchanges ORDER BY id DESC").compactMap { $0[0].int64 }
        #expect(all.count == 90)
        let check = try ResidualCheck(db: idx.db)
        var texts: [Int64: RecordTexts] = [:]
        for id in all { texts[id] = try idx.load(id: id)?.texts }
        var nonTrivial = 0
        for _ in 0..<250 {
            let p = Self.predicate(&rng)
            let plan = try PredicatePlan.compile([p])
            let pushed: [Int64], scanned: [Int64]
            do {
                pushed = try idx.ids(ListQuery(limit: nil, predicates: [p]))
                scanned = try all.filter { try check.matches(id: $0, texts: texts[$0]!, plan: plan) }
            } catch {
                Issue.record("\(p): \(error)")
                continue
            }
            #expect(pushed == scanned, "\(p)")
            if !scanned.isEmpty && scanned.count < all.count { nonTrivial += 1 }
        }
        #expect(nonTrivial > 60, "the generator must produce selective predicates")
        try await f.closeWriter()
    }
}
