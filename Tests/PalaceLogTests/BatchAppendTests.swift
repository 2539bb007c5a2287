import Foundation
import Testing
@testable import PalaceLog

/// `LogWriter.appendExchanges`: many exchanges per await, same records as appending them one by one.
@Suite struct BatchAppendTests {
    /// Exchange `i`: a begin, `chunks` request chunks and an end (ids in the records are placeholders).
    func exchange(_ i: Int, chunks: Int) -> [LogRecord] {
        var records: [LogRecord] = [.begin(Samples.begin(i))]
        for c in 0..<chunks {
            records.append(.chunk(ExchangeChunk(exchangeID: 999, direction: .request, offset: UInt64(c * 10),
                                                bytes: Array(repeating: UInt8(c), count: 10))))
        }
        records.append(.end(Samples.end(999, i)))
        return records
    }

    /// The records of `dir` with what must match (type, exchange id, payload) and not the write time.
    func contents(_ dir: String) throws -> [(RecordType, UInt64, [UInt8])] {
        Array(try LogReader(directory: dir).records()).map { ($0.record.type, $0.record.exchangeID, PayloadEncoding.encode($0.record)) }
    }

    @Test func batchWritesTheSameRecordsAsOneByOne() async throws {
        let a = TempDirectory(), b = TempDirectory(); defer { a.remove(); b.remove() }
        // Small segments, so batches are split across rolls (the owner thread writes what a producer could not).
        let options = LogWriterOptions(syncPolicy: .none, segmentMaxBytes: 4096)
        let exchanges = (0..<60).map { exchange($0, chunks: $0 % 4) }
        let one = try LogWriter.open(directory: a.path, options: options)
        var expectedIDs: [UInt64] = []
        for records in exchanges {
            let (id, _) = try await one.appendBegin(records[0].beginRecord!)
            expectedIDs.append(id)
            for r in records.dropFirst() { _ = try await one.append(r.withExchangeID(id)) }
        }
        try await one.close()

        let batched = try LogWriter.open(directory: b.path, options: options)
        var ids: [UInt64] = []
        for part in stride(from: 0, to: exchanges.count, by: 25) {
            let r = await batched.appendExchanges(Array(exchanges[part..<min(part + 25, exchanges.count)]))
            #expect(r.error == nil)
            ids += r.exchangeIDs
        }
        #expect(ids == expectedIDs)
        #expect(batched.nextExchangeID == 61)
        try await batched.close()
        let x = try contents(a.path), y = try contents(b.path)
        #expect(x.count == y.count)
        for (l, r) in zip(x, y) { #expect(l.0 == r.0 && l.1 == r.1 && l.2 == r.2) }
        #expect(try LogInspector.inspect(directory: b.path, decode: true).damage.isEmpty)
    }

    @Test func concurrentAppendsNeverComeBetweenABatchsRecords() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let w = try LogWriter.open(directory: dir.path, options: LogWriterOptions(syncPolicy: .none))
        let batches = (0..<8).map { b in (0..<50).map { exchange(b * 100 + $0, chunks: 2) } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for batch in batches {
                group.addTask {
                    let r = await w.appendExchanges(batch)
                    #expect(r.error == nil && r.exchangeIDs.count == 50)
                }
            }
            group.addTask {
                for i in 0..<200 {
                    let (id, _) = try await w.appendBegin(Samples.begin(10_000 + i))
                    _ = try await w.append(.end(Samples.end(id, i)))
                }
            }
            try await group.waitForAll()
        }
        try await w.close()
        // Every exchange's records follow its begin, and a batch exchange's records are contiguous.
        var seen: Set<UInt64> = []
        var openBatchExchange: UInt64?
        var remaining = 0
        for r in try LogReader(directory: dir.path).records() {
            let id = r.record.exchangeID
            if remaining > 0 {
                #expect(id == openBatchExchange)
                remaining -= 1
                continue
            }
            if case .begin(let b) = r.record {
                #expect(seen.insert(id).inserted)
                // Batch exchanges are numbered below 10,000 (`Samples.begin` puts the number in the start time).
                if b.startedAt < 1_700_000_000_000_000 + 10_000 { openBatchExchange = id; remaining = 3 }
            } else {
                #expect(seen.contains(id))
            }
        }
        #expect(seen.count == 8 * 50 + 200)
    }

    @Test func aFailedBatchStopsAndSaysWhatWasWritten() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let disk = FullDisk()
        var options = LogWriterOptions(syncPolicy: .none)
        options.fileIO = disk.io
        let w = try LogWriter.open(directory: dir.path, options: options)
        let ok = await w.appendExchanges([exchange(0, chunks: 1)])
        #expect(ok == ExchangeBatchResult(exchangeIDs: [1], error: nil))
        disk.full.store(true, ordering: .relaxed)
        let failed = await w.appendExchanges((1..<5).map { exchange($0, chunks: 1) })
        guard case .diskFull? = failed.error else { Issue.record("expected disk full, got \(failed)"); return }
        #expect(failed.exchangeIDs.isEmpty)   // one write(2) for the batch: nothing of it is in the file
        disk.full.store(false, ordering: .relaxed)
        // Not an exchange: refused before anything is queued.
        let bad = await w.appendExchanges([[.end(Samples.end(1, 1))]])
        #expect(bad.error != nil && bad.exchangeIDs.isEmpty)
        let again = await w.appendExchanges([exchange(7, chunks: 0)])
        #expect(again == ExchangeBatchResult(exchangeIDs: [2], error: nil))
        try await w.close()
        let closed = await w.appendExchanges([exchange(8, chunks: 0)])
        #expect(closed == ExchangeBatchResult(exchangeIDs: [], error: .closed))
        let s = try LogInspector.inspect(directory: dir.path, decode: true)
        #expect(s.records == 3 + 2 && s.damage.isEmpty && s.tornTail == nil)
    }
}

extension LogRecord {
    var beginRecord: ExchangeBegin? { if case .begin(let b) = self { return b }; return nil }

    func withExchangeID(_ id: UInt64) -> LogRecord {
        switch self {
        case .chunk(var c): c.exchangeID = id; return .chunk(c)
        case .end(var e): e.exchangeID = id; return .end(e)
        default: return self
        }
    }
}
