import Testing
@testable import PalaceLog

/// `LogWriter.subscribe`: the records handed to the in-process consumer are exactly what a reader reads back.
@Suite struct AppendFeedTests {
    /// Every record type, single appends and a batch, across segment rolls: the feed holds the log's records from the
    /// subscription on, in order, with the same sequence, position, timestamp and decoded record.
    @Test func feedHoldsWhatTheReaderReads() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path, options: LogWriterOptions(syncPolicy: .none, segmentMaxBytes: 4096))
        let (early, _) = try await writer.appendBegin(Samples.begin(0))   // before the subscription: not delivered
        let feed = writer.subscribe()
        #expect(writer.subscribe() === feed)
        let firstSequence = writer.nextSequence
        var r = SeededRandom(seed: 7)
        for i in 1...40 {
            let (id, _) = try await writer.appendBegin(Samples.begin(i))
            _ = try await writer.append(.chunk(ExchangeChunk(exchangeID: id, direction: .response, offset: 0,
                                                             bytes: RandomRecords.bytes(&r, count: 300))))
            _ = try await writer.append(.end(Samples.end(id, i)))
            if i % 10 == 0 {
                _ = try await writer.append(.annotation(Annotation(exchangeID: id, category: "goodcase", addTags: ["t\(i)"])))
                _ = try await writer.append(.tombstone(Tombstone(exchangeIDs: [early, id], reason: "test")))
            }
        }
        // A batch: the records carry placeholder ids; the writer gives them the begins' ids.
        let batch: [[LogRecord]] = (41...45).map { i in
            [.begin(Samples.begin(i)), .chunk(ExchangeChunk(exchangeID: 999, direction: .request, offset: 0, bytes: [1, 2, 3])),
             .end(Samples.end(999, i))]
        }
        let result = await writer.appendExchanges(batch)
        #expect(result.error == nil)
        // Concurrent producers: deliveries still follow log order.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 46..<70 {
                group.addTask { _ = try await writer.append(.end(Samples.end(UInt64(i), i))) }
            }
            try await group.waitForAll()
        }
        let handed = feed.take()
        try await writer.close()

        let read = Array(try LogReader(directory: dir.path).records(from: firstSequence))
        #expect(dir.segmentFiles().count > 3, "the records span several segments")
        #expect(handed.count == read.count)
        #expect(handed.first?.sequence == firstSequence)
        for (h, g) in zip(handed, read) {
            #expect(h == g, "record \(g.sequence)")
        }
        #expect(feed.take().isEmpty, "take empties the feed")
        #expect(feed.dropped == 0)
    }

    /// A consumer that falls behind: the feed drops what it holds rather than grow past its bound; what it still
    /// delivers is a consecutive run that matches the log, and the log keeps everything.
    @Test func lateConsumerLosesHeldRecordsNotTheLog() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path, options: LogWriterOptions(syncPolicy: .none))
        let feed = writer.subscribe(maxBytes: 2000)
        for i in 0..<50 { _ = try await writer.appendBegin(Samples.begin(i, body: Array(repeating: UInt8(65), count: 200))) }
        #expect(feed.dropped > 0)
        let handed = feed.take()
        #expect(!handed.isEmpty && handed.count < 50)
        #expect(zip(handed, handed.dropFirst()).allSatisfy { $0.sequence + 1 == $1.sequence }, "a consecutive run")
        #expect(handed.last?.sequence == writer.nextSequence - 1, "the newest records are kept")
        let read = Array(try LogReader(directory: dir.path).records())
        #expect(read.count == 50)
        for h in handed { #expect(read.first { $0.sequence == h.sequence } == h) }
        try await writer.close()
    }

    /// Without a subscriber the writer keeps no records (nothing to hand over, nothing held).
    @Test func noSubscriberNoDelivery() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path, options: LogWriterOptions(syncPolicy: .none))
        _ = try await writer.appendBegin(Samples.begin(1))
        let feed = writer.subscribe()
        #expect(feed.take().isEmpty)
        _ = try await writer.appendBegin(Samples.begin(2))
        #expect(feed.take().count == 1)
        try await writer.close()
    }
}
