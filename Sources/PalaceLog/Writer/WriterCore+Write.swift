/// The write path of whoever holds the writing role (the owner thread, or a producer on its own thread): frames a
/// batch, writes it with as few write(2) calls as possible, rolls segments by size and age (owner thread only), and
/// acknowledges producers.
extension WriterCore {
    /// Flush threshold inside one batch, so a burst of large records does not build one huge buffer.
    private static let maxWriteBytes = 8 << 20

    /// Writes `batch` and acknowledges its records. With `canRoll` false (a producer writing on its own thread) it
    /// stops where the segment would have to roll and returns the records not written, for the owner thread.
    func write(_ batch: [Pending], canRoll: Bool) -> ArraySlice<Pending> {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(min(Self.maxWriteBytes, batch.reduce(0) { $0 + FrameHeader.size + $1.payload.bytes.count }))
        var group: [(Pending, Ack)] = []
        var done: [(Pending, Ack)] = []
        var next = counters
        var nextLastFrame = lastFrameOffset
        let now = Posix.nowMicros()
        let maxAgeMicros = Int64(options.segmentMaxAge * 1_000_000)

        func flush() {
            guard !group.isEmpty else { return }
            let result = buffer.withUnsafeBytes { b in Result { () throws(LogError) in try segment.append(b) } }
            switch result {
            case .success:
                counters = next
                lastFrameOffset = nextLastFrame
                if dirtySince == nil { dirtySince = Posix.monotonicNanos() }
                groupCommit?.noteWrite(to: segment, state: checkpoint)
                done.append(contentsOf: group)
            case .failure(let error):
                next = counters  // nothing of this group is in the file: give its numbers to later records
                nextLastFrame = lastFrameOffset
                for (p, _) in group { p.settle(ack: nil, error: error) }
            }
            buffer.removeAll(keepingCapacity: true)
            group.removeAll(keepingCapacity: true)
        }

        var rest: ArraySlice<Pending> = []
        for (i, p) in batch.enumerated() {
            // A batch stops at its first failed record: nothing more of it is written.
            if let b = p.batch, b.failed { p.settle(ack: nil, error: .closed); continue }
            let frameLength = FrameHeader.size + p.payload.bytes.count
            let pending = segment.size + UInt64(buffer.count)
            let full = pending + UInt64(frameLength) > options.segmentMaxBytes
            let old = now - segment.header.createdAt > maxAgeMicros
            if pending > UInt64(segment.header.headerSize) && (full || old) {
                flush()
                guard canRoll else { rest = batch[i...]; break }
                do { try roll() } catch {
                    p.settle(ack: nil, error: error)
                    continue
                }
                nextLastFrame = 0
            }
            let isBegin = p.type == .begin
            let xid = isBegin ? next.exchangeID : (p.batch != nil ? lastBeginID : p.exchangeID)
            if isBegin { lastBeginID = xid }
            let ack = Ack(sequence: next.sequence,
                          position: RecordPosition(segment: segment.base, offset: segment.size + UInt64(buffer.count)),
                          exchangeID: xid)
            let header = FrameHeader(crc: 0, storedLength: UInt32(p.payload.bytes.count),
                                     rawLength: UInt32(p.payload.rawLength), type: p.type.rawValue,
                                     codec: p.payload.codec.rawValue, dictionaryID: p.payload.dictionaryID,
                                     sequence: ack.sequence, exchangeID: ack.exchangeID, timestamp: now)
            header.write(into: &buffer, payloadCRC: p.payload.payloadCRC)
            buffer.append(contentsOf: p.payload.bytes)
            nextLastFrame = ack.position.offset
            next.sequence += 1
            if isBegin { next.exchangeID += 1 }
            group.append((p, ack))
            if buffer.count >= Self.maxWriteBytes { flush() }
        }
        flush()
        published.withLock { $0 = counters }

        var failure: LogError?
        if options.syncPolicy == .always, !done.isEmpty, case .failure(let e) = syncNowForAlways() { failure = e }
        for (p, ack) in done { p.settle(ack: ack, error: failure) }
        return rest
    }

    private func syncNowForAlways() -> Result<Void, LogError> {
        let state = checkpoint
        do { try segment.sync() } catch { return .failure(error) }
        dirtySince = nil
        checkpoints?.record(state)
        return .success(())
    }

    /// Seals the active segment (fsync) and starts a new one named by the next sequence number.
    func roll() throws(LogError) {
        try segment.sync()
        dirtySince = nil
        let header = SegmentHeader(baseSequence: counters.sequence, createdAt: Posix.nowMicros(),
                                   nextExchangeID: counters.exchangeID)
        // The old segment's descriptor closes when the last reference (maybe the group-commit thread's) goes.
        segment = try SegmentWriter.create(directory: directory, header: header, io: options.fileIO)
        lastFrameOffset = 0
        checkpoints?.record(checkpoint)  // the new segment's header is fsync'd by `create`
    }
}
