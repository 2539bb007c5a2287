import Testing
@testable import PalaceIndex

/// Law: wherever the skeleton says it knows a path, the SQL the index runs over it
/// (`json_extract(mp_skel_value(skel, path), '$')`) returns what SQLite's `json_extract(body, path)` returns — same
/// value, same type; a null test it calls known agrees with `json_extract(body, path) IS NULL`.
@Suite struct BodySkeletonTests {
    struct RNG {
        var s: UInt64
        mutating func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s >> 33 }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ xs: [T]) -> T { xs[int(xs.count)] }
    }

    static let keys = ["model", "messages", "role", "content", "max_tokens", "a", "b", "choices", "x y", "数据", "k\\\"q"]
    static let strings = ["", "stop", "user", "~", "\\u0000", "a\\nb", "\\u4e2d\\u6587", "\\ud83d\\ude00 ok", "50%",
                          String(repeating: "long text ", count: 4), "exactly twenty-four byte", "twenty-five bytes exactly",
                          "it's \\\"quoted\\\"", "模型回答模型回答"]
    static let numbers = ["0", "-0", "4096", "1.5", "-2.5e3", "1E2", "12345678901234567890", "0.1", "3"]

    static func value(_ rng: inout RNG, depth: Int) -> String {
        let ws = rng.int(4) == 0 ? " " : ""
        switch depth > 7 ? rng.int(4) : rng.int(7) {
        case 0: return "\"" + rng.pick(strings) + "\""
        case 1: return rng.pick(numbers)
        case 2: return rng.pick(["true", "false", "null"])
        case 3: return "\"" + rng.pick(strings) + "\""
        case 4, 5:
            let n = rng.int(6)
            let members = (0..<n).map { _ in "\"\(rng.pick(keys))\"\(ws):\(ws)" + value(&rng, depth: depth + 1) }
            return "{" + ws + members.joined(separator: "," + ws) + "}"
        default:
            let n = rng.int(9)
            return "[" + (0..<n).map { _ in value(&rng, depth: depth + 1) }.joined(separator: "," + ws) + "]"
        }
    }

    static func path(_ rng: inout RNG) -> [PredicatePathStep] {
        (0..<(1 + rng.int(4))).map { _ in
            rng.int(2) == 0 ? .key(rng.pick(keys).replacing("\\\"", with: "\"")) : .index(rng.int(12) - 4)
        }
    }

    @Test func knownPathsAgreeWithJSONExtract() throws {
        let db = try SQLiteConnection(path: ":memory:")
        try db.execute("CREATE TABLE t (body TEXT, skel BLOB)")
        var rng = RNG(s: 5_2026_11_29)
        var known = 0, unknown = 0, checked = 0
        for _ in 0..<250 {
            let body = Self.value(&rng, depth: 0)
            guard JSONBytes.isValid(Array(body.utf8)) else { continue }
            let skel = BodySkeleton.make(Array(body.utf8))
            try db.run("DELETE FROM t")
            try db.run("INSERT INTO t VALUES (?, ?)", [.text(body), skel.map(SQLiteValue.blob) ?? .null])
            for _ in 0..<12 {
                let steps = Self.path(&rng)
                let p = SQLiteValue.text(BodySkeleton.encodePath(steps))
                let sp = SQLiteValue.text(PredicatePathStep.sqlitePath(steps))
                let row = try db.query("""
                    SELECT mp_skel_known(skel, ?1, 0), mp_skel_known(skel, ?1, 1),
                           json_extract(mp_skel_value(skel, ?1), '$') IS json_extract(body, ?2),
                           typeof(json_extract(mp_skel_value(skel, ?1), '$')) = typeof(json_extract(body, ?2)),
                           (json_extract(mp_skel_value(skel, ?1), '$') IS NULL) = (json_extract(body, ?2) IS NULL)
                    FROM t
                    """, [p, sp])[0]
                checked += 1
                if row[1].int64 == 1 {
                    #expect(row[4].int64 == 1, "null test: \(body) \(steps)")
                }
                if row[0].int64 == 1 {
                    known += 1
                    #expect(row[2].int64 == 1 && row[3].int64 == 1, "\(body) \(steps)")
                } else {
                    unknown += 1
                }
            }
        }
        #expect(known > 300 && unknown > 60, "known \(known) unknown \(unknown) of \(checked)")
    }

    @Test func typicalChatBodiesAreSmallAndDecideScalars() throws {
        let history = (0..<12).map { i in #"{"role":"\#(i % 2 == 0 ? "user" : "assistant")","content":"\#(String(repeating: "turn \(i) text ", count: 30))"}"# }
        let body = #"{"model":"moonshot-v1-8k","messages":[\#(history.joined(separator: ","))],"temperature":0.3,"max_tokens":4096}"#
        let skel = try #require(BodySkeleton.make(Array(body.utf8)))
        #expect(skel.count < 160, "\(skel.count) bytes")
        var scratch = [UInt8](repeating: 0, count: BodySkeleton.maxBytes + 64)
        let n = try #require(skel.withUnsafeBytes { s in scratch.withUnsafeMutableBufferPointer {
            BodySkeleton.decompress(s, into: $0.baseAddress!, capacity: $0.count) } })
        scratch.withUnsafeBufferPointer { b in
            let text = UnsafeBufferPointer(rebasing: b[0..<n])
            #expect(BodySkeleton.lookup(text, path: [.key("max_tokens")]) != .unknown)
            #expect(BodySkeleton.lookup(text, path: [.key("messages"), .index(-1), .key("role")]) != .unknown)
            #expect(BodySkeleton.lookup(text, path: [.key("messages"), .index(5), .key("role")]) == .unknown)
            #expect(BodySkeleton.lookup(text, path: [.key("messages"), .index(-1), .key("content")]) == .present)
            #expect(BodySkeleton.lookup(text, path: [.key("stop")]) == .missing)
            #expect(BodySkeleton.lookup(text, path: [.key("messages"), .index(12)]) == .missing)
        }
    }
}
