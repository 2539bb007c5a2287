import Foundation
import Testing
@testable import PalaceLog

/// Logs written by earlier format versions keep reading and continue (FORMAT.md, "Versions").
@Suite struct VersionTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let dictionaryPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("dictionaries/moonshot-v1.dict").path

    /// A copy of `Fixtures/v1.0-log` (made by `Fixtures/make_v1_0_log.py` from the 1.0 layout: every record type,
    /// an LZ4 block copying from dictionary 1, a torn tail, no CHECKPOINT file).
    func copyOfV10Log() throws -> TempDirectory {
        let dir = TempDirectory("v10")
        let src = Self.fixtures.appendingPathComponent("v1.0-log").path
        let names = try FileManager.default.contentsOfDirectory(atPath: src)
        #expect(names == ["00000000000000000001.seg"])
        for name in names { dir.write(name, [UInt8](try #require(FileManager.default.contents(atPath: src + "/" + name)))) }
        return dir
    }

    @Test func version10LogReadsOpensAndContinues() async throws {
        let dir = try copyOfV10Log(); defer { dir.remove() }
        let summary = try LogInspector.inspect(directory: dir.path, decode: true)
        #expect(summary.damage.isEmpty && summary.tornTail?.length == 30 && summary.records == 7)

        let it = try LogReader(directory: dir.path).records()
        let records = Array(it)
        #expect(it.damage.isEmpty && records.map(\.sequence) == Array(1...7))
        #expect(records.map(\.record.type) == [.begin, .chunk, .chunk, .end, .annotation, .begin, .tombstone])
        guard case .begin(let b) = records[0].record, case .chunk(let c1) = records[1].record,
              case .chunk(let c2) = records[2].record, case .end(let e) = records[3].record,
              case .tombstone(let t) = records[6].record else {
            Issue.record("unexpected record kinds"); return
        }
        #expect(b.exchangeID == 1 && b.method == "POST" && b.target == "/v1/chat/completions?v=1.0")
        #expect(b.requestHeaders == [HeaderField(name: "Authorization", value: "Bearer " + String(repeating: "*", count: 20) + "abcd")])
        #expect(!b.requestBodyComplete && b.clientRequestID == "req-1" && b.flags == [.stream])
        #expect(b.meta == [HeaderField(name: "moonpalace_id", value: "mp-1")])
        #expect(c1.direction == .request && c1.offset == 77 && String(decoding: c1.bytes, as: UTF8.self) == #","temperature":0.3}"#)
        // The LZ4 record: 64 bytes copied from dictionary 1's last 300 bytes, then literals.
        let dict = [UInt8](try #require(FileManager.default.contents(atPath: Self.dictionaryPath)))
        #expect(c2.direction == .response && c2.bytes == Array(dict[(dict.count - 300)..<(dict.count - 236)]) + Array("tail!...".utf8))
        #expect(e.status == 200 && e.model == "kimi-k2" && e.chatcmplID == "chatcmpl-1" && e.finishReasons == ["stop"])
        #expect(e.usage == Usage(promptTokens: 10, completionTokens: 5, totalTokens: 15, cachedTokens: 0))
        #expect(e.timings.ttfb == 350_000 && e.timings.total == 2_000_000 && e.timings.serverTimingMs == 12.5)
        #expect(e.mergedCompletion.map { String(decoding: $0, as: UTF8.self) } == #"{"id":"chatcmpl-1"}"#)
        #expect(records[4].record == .annotation(Annotation(exchangeID: 1, category: "goodcase", addTags: ["v1.0"])))
        #expect(t.exchangeIDs == [2] && t.reason == "cleanup")

        // A 1.1 writer opens it (no checkpoint: full scan), truncates the torn tail, continues, and checkpoints.
        let w = try LogWriter.open(directory: dir.path)
        #expect(w.nextSequence == 8 && w.nextExchangeID == 3)
        let (x, r) = try await w.appendBegin(Samples.begin(1))
        #expect(x == 3 && r.sequence == 8)
        try await w.close()
        // The 1.0 segment is older than the 24 h age limit: the writer rolled to segment 8 first. The new record is
        // compressed with dictionary 2 (frame bytes 17–19: codec 1, dictionary 2).
        let seg = dir.bytes(SegmentName.fileName(for: r.position.segment))
        let at = Int(r.position.offset)
        #expect(r.position.segment == 8 && seg[at + 17] == 1 && seg[at + 18] == 2 && seg[at + 19] == 0)
        #expect(dir.bytes("00000000000000000001.seg").count == 866 - 30)  // torn tail truncated, nothing else changed
        let c = try #require(Checkpoint.read(directory: dir.path))
        #expect(c.segment == 8 && c.nextSequence == 9 && c.nextExchangeID == 4)
        let again = try LogReader(directory: dir.path).records()
        #expect(Array(again).map(\.sequence) == Array(1...8) && again.damage.isEmpty)
    }

    /// `Fixtures/v1.1-log`: written by the 1.1 proxy (`moonpalace start` before this field existed) in front of
    /// `moonpalace mock` — exchange 1 a 6-chunk stream, 2 a JSON answer, 3 a slow 30-chunk stream whose body went out
    /// in two response chunk records, then a `goodcase` annotation of exchange 1 — with its CHECKPOINT.
    @Test func version11LogReadsWithoutArrivalTimesAndContinues() async throws {
        let dir = TempDirectory("v11"); defer { dir.remove() }
        let src = Self.fixtures.appendingPathComponent("v1.1-log").path
        let names = try FileManager.default.contentsOfDirectory(atPath: src).sorted()
        #expect(names == ["00000000000000000001.seg", "CHECKPOINT"])
        for name in names { dir.write(name, [UInt8](try #require(FileManager.default.contents(atPath: src + "/" + name)))) }

        let it = try LogReader(directory: dir.path).records()
        let old = Array(it)
        #expect(it.damage.isEmpty && old.map(\.sequence) == Array(1...9))
        #expect(old.map(\.record.type) == [.begin, .end, .begin, .end, .begin, .chunk, .chunk, .end, .annotation])
        for r in old {
            if case .chunk(let c) = r.record { #expect(c.direction == .response && c.arrivals.isEmpty) }
            if case .end(let e) = r.record { #expect(e.arrivals.isEmpty && e.status == 200) }
        }
        let reader = try LogReader(directory: dir.path)
        let stream = try #require(reader.exchange(id: 3))
        let end = try #require(stream.end)
        #expect(end.flags.contains(.stream) && end.timings.ttft != nil && end.timings.total != nil)
        #expect(stream.responseBody.count == Int(end.responseBodyLength) && stream.responseArrivals.isEmpty)
        #expect(String(decoding: stream.responseBody, as: UTF8.self).hasSuffix("data: [DONE]\n\n"))
        #expect(stream.begin.clientRequestID == "v11-slow" && end.mergedCompletion != nil)
        let first = try #require(reader.exchange(id: 1))
        #expect(first.begin.requestHeaders.contains { $0.name == "Authorization" && $0.value.hasSuffix("abcd") && $0.value.contains("****") })
        #expect(old[8].record == .annotation(Annotation(exchangeID: 1, category: "goodcase")))

        // A 1.2 writer continues the log; its records carry arrival times, the old ones still read as before.
        let w = try LogWriter.open(directory: dir.path)
        #expect(w.nextSequence == 10 && w.nextExchangeID == 4)
        let (x, _) = try await w.appendBegin(Samples.begin(4))
        var early = BodyArrivals()
        early.append(length: 4, micros: 1_000); early.append(length: 6, micros: 1_500)
        _ = try await w.append(.chunk(ExchangeChunk(exchangeID: x, direction: .response, offset: 0,
                                                    bytes: Array("data: 1\n\n".utf8), arrivals: early)))
        var late = BodyArrivals()
        late.append(length: 5, micros: 2_500)
        _ = try await w.append(.end(ExchangeEnd(exchangeID: x, endedAt: 1, status: 200, responseBody: Array("x\n\n\n\n".utf8),
                                                responseBodyOffset: 10, flags: [.stream], arrivals: late)))
        try await w.close()
        let again = try LogReader(directory: dir.path)
        let all = Array(again.records())
        #expect(all.count == 12 && Array(all.prefix(9)).map(\.record) == old.map(\.record))
        let fresh = try #require(again.exchange(id: x))
        #expect(fresh.responseArrivals == [BodyArrival(offset: 0, length: 4, micros: 1_000),
                                           BodyArrival(offset: 4, length: 6, micros: 1_500),
                                           BodyArrival(offset: 10, length: 5, micros: 2_500)])
        #expect(again.exchange(id: 3)?.responseArrivals.isEmpty == true)
    }
}
