import Foundation
import Synchronization
import Testing
@testable import PalaceLog

/// The writer's two paths — records written by a producer holding the writing role on its own thread, or by the
/// owner thread (rolls, syncs, close) — give one log, with exchanges appended the way the proxy appends them (begin,
/// chunks, end, each awaited): dense sequence numbers and exchange ids in file order, every acknowledgement pointing
/// at its record, each producer's records in the order it appended them.
@Suite struct WriterPathsTests {
    /// Exchanges from many tasks and threads at once (begin, chunks, end, each awaited like the proxy does), with
    /// syncs and segment rolls between them: both paths are taken, and the log is as if one thread wrote it.
    @Test func concurrentExchangesKeepOrderAndNumbering() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        var options = LogWriterOptions(syncPolicy: .batch)
        options.segmentMaxBytes = 64 << 10   // rolls: those records go through the owner thread
        let writer = try LogWriter.open(directory: dir.path, options: options)
        let producers = 24, exchanges = 40
        struct Written: Sendable { var id: UInt64; var acks: [AppendResult]; var records: [LogRecord] }
        let written = try await withThrowingTaskGroup(of: [Written].self) { group in
            for p in 0..<producers {
                group.addTask {
                    var mine: [Written] = []
                    for e in 0..<exchanges {
                        let n = p * 1000 + e
                        var begin = Samples.begin(n)
                        let (id, first) = try await writer.appendBegin(begin)
                        begin.exchangeID = id
                        var w = Written(id: id, acks: [first], records: [.begin(begin)])
                        for c in 0..<(n % 3) {
                            let chunk = LogRecord.chunk(ExchangeChunk(exchangeID: id, direction: .response,
                                                                      offset: UInt64(c * 100), bytes: Array(repeating: UInt8(c), count: 100)))
                            w.acks.append(try await writer.append(chunk)); w.records.append(chunk)
                        }
                        let end = LogRecord.end(Samples.end(id, n))
                        w.acks.append(try await writer.append(end)); w.records.append(end)
                        if n % 17 == 0 { try await writer.sync() }
                        mine.append(w)
                    }
                    return mine
                }
            }
            return try await group.reduce(into: [Written]()) { $0 += $1 }
        }
        try await writer.close()

        let reader = try LogReader(directory: dir.path)
        let it = reader.records()
        let all = Array(it)
        #expect(it.damage.isEmpty)
        let total = written.reduce(0) { $0 + $1.records.count }
        #expect(all.map(\.sequence) == Array(1...UInt64(total)))
        #expect(written.map(\.id).sorted() == Array(1...UInt64(producers * exchanges)))
        #expect(dir.segmentFiles().count > 2)
        let bySequence = Dictionary(uniqueKeysWithValues: all.map { ($0.sequence, $0) })
        for w in written {
            // begin < chunks < end in the file, each acknowledgement naming exactly its record
            #expect(w.acks.map(\.sequence) == w.acks.map(\.sequence).sorted())
            for (ack, record) in zip(w.acks, w.records) {
                let stored = try #require(bySequence[ack.sequence])
                #expect(stored.position == ack.position && stored.record == record)
            }
        }
        // begin records carry increasing ids in file order
        let beginIDs = all.compactMap { r -> UInt64? in if case .begin(let b) = r.record { return b.exchangeID } else { return nil } }
        #expect(beginIDs == beginIDs.sorted())
    }

    /// Appends racing `close()`: each either is on the log (and acknowledged) or failed with `.closed`.
    @Test func appendsRacingCloseAreOnTheLogOrRefused() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        final class Acked: Sendable { let list = Mutex<[UInt64]>([]) }
        let acked = Acked()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<8 {
                group.addTask {
                    for i in 0..<200 {
                        do {
                            let r = try await writer.appendBegin(Samples.begin(p * 1000 + i)).result
                            acked.list.withLock { $0.append(r.sequence) }
                        } catch LogError.closed {
                            return
                        }
                    }
                }
            }
            group.addTask { try await Task.sleep(for: .milliseconds(5)); try await writer.close() }
            try await group.waitForAll()
        }
        let onLog = Array(try LogReader(directory: dir.path).records()).map(\.sequence)
        #expect(acked.list.withLock { $0.sorted() } == onLog)
        #expect(onLog == (0..<onLog.count).map { UInt64($0 + 1) })
    }
}
