import Testing
import PalaceLog
import Synchronization
@testable import PalaceIndex

/// A writer appending, a tailer catching up every few ms (as inside `start`), and readers listing all at once:
/// no "database is locked", and in the end the index holds everything.
@Suite struct ConcurrencyTests {
    @Test func writerTailerAndReadersRunSideBySide() async throws {
        let f = try LogFixture()
        try await f.chat()
        let tailer = try f.index()
        let dir = f.dir
        let stop = StopFlag()
        let tailTask = Task.detached {
            var errors: [String] = []
            while !stop.isSet {
                do { try tailer.catchUp() } catch { errors.append("\(error)") }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return errors
        }
        let readers = (0..<2).map { _ in
            Task.detached { () -> [String] in
                var errors: [String] = []
                do {
                    let idx = try ExchangeIndex(dataDirectory: dir)
                    while !stop.isSet {
                        do {
                            try idx.catchUp()
                            _ = try idx.list(ListQuery(limit: 20, predicates: ["status == 200 && request_body.messages.0.role == 'user'"]))
                            _ = try idx.search("hello", query: ListQuery(limit: 5))
                        } catch { errors.append("\(error)") }
                        // Readers must not hog the cooperative pool (2 threads here) the writer also needs.
                        try? await Task.sleep(for: .milliseconds(2))
                    }
                } catch { errors.append("\(error)") }
                return errors
            }
        }
        for i in 0..<300 { try await f.chat(user: "hello \(i)") }
        stop.set()
        let errs = await tailTask.value + (await readers[0].value) + (await readers[1].value)
        #expect(errs.isEmpty, "\(errs.prefix(3))")
        try tailer.catchUp()
        #expect(try tailer.list(ListQuery(limit: 0)).count == 301)
        try await f.closeWriter()
    }
}

final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

@Suite struct TailerTests {
    @Test func tailerKeepsTheIndexWithinASecondOfTheLog() async throws {
        let f = try LogFixture()
        try await f.chat(end: false)
        let tailer = try IndexTailer(dataDirectory: f.dir, interval: .milliseconds(100))
        try tailer.start()
        let task = Task { await tailer.run() }
        for i in 0..<20 { try await f.chat(user: "tail \(i)") }
        try await Task.sleep(for: .milliseconds(900))
        // A reader that does not catch up itself sees what the tailer indexed.
        let reader = try f.index()
        #expect(try reader.list(ListQuery(limit: 0)).count == 21)
        #expect(try reader.summary(id: 1)?.state == "in_flight", "the writer is alive: still in flight")
        task.cancel()
        await task.value
        try await f.closeWriter()
    }
}
