import Testing
@testable import PalaceLog

@Suite struct RecoveryTests {
    /// Cuts the active segment at every byte offset inside its last three records: reopening keeps exactly the
    /// records before the cut, and appends continue with the next sequence number and exchange id.
    @Test func tornTailIsTruncatedAtEveryOffsetOfTheLastThreeRecords() async throws {
        let source = TempDirectory(); defer { source.remove() }
        let writer = try LogWriter.open(directory: source.path, options: LogWriterOptions(syncPolicy: .none))
        var results: [AppendResult] = []
        for i in 0..<12 { results.append(try await writer.appendBegin(Samples.begin(i)).result) }
        try await writer.close()
        let name = source.segmentFiles()[0]
        let full = source.bytes(name)
        let lastThree = Int(results[results.count - 3].position.offset)
        let dir = TempDirectory(); defer { dir.remove() }
        for cut in lastThree..<full.count {
            try? FileManagerShim.removeAll(in: dir.path)
            dir.write(name, Array(full[0..<cut]))
            let ends = results.dropFirst().map { Int($0.position.offset) } + [full.count]
            let kept = ends.filter { $0 <= cut }.count
            let w = try LogWriter.open(directory: dir.path, options: LogWriterOptions(syncPolicy: .none))
            #expect(w.nextSequence == UInt64(kept + 1), "cut at \(cut)")
            #expect(w.nextExchangeID == UInt64(kept + 1), "cut at \(cut)")
            let (x, r) = try await w.appendBegin(Samples.begin(99))
            try await w.close()
            #expect(x == UInt64(kept + 1) && r.sequence == UInt64(kept + 1))
            let it = try LogReader(directory: dir.path).records()
            let seqs = Array(it).map(\.sequence)
            #expect(seqs == Array(1...UInt64(kept + 1)), "cut at \(cut)")
            #expect(it.damage.isEmpty, "cut at \(cut)")
        }
    }

    /// A torn tail left by a dead writer is reported by verify as such, not as damage.
    @Test func tornTailIsNotDamage() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let w = try LogWriter.open(directory: dir.path)
        for i in 0..<3 { _ = try await w.appendBegin(Samples.begin(i)) }
        try await w.close()
        let name = dir.segmentFiles()[0]
        let b = dir.bytes(name)
        dir.write(name, Array(b.dropLast(7)))
        let s = try LogInspector.inspect(directory: dir.path, decode: true)
        #expect(s.damage.isEmpty)
        #expect(s.tornTail != nil)
        #expect(s.records == 2)
    }

    @Test func secondWriterIsRefusedWithThePid() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let w = try LogWriter.open(directory: dir.path)
        #expect(throws: LogError.locked(directory: dir.path, pid: getpid())) { try LogWriter.open(directory: dir.path) }
        #expect(LogError.locked(directory: dir.path, pid: 42).description == "another moonpalace (pid 42) is writing to \(dir.path)")
        try await w.close()
        let again = try LogWriter.open(directory: dir.path)
        try await again.close()
    }

    /// Damage in the middle of the active segment found on open (no usable checkpoint, as in a 1.0 log): records
    /// after it are kept (the segment is sealed as is and a new one started).
    @Test func damageInsideActiveSegmentKeepsLaterRecords() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let w = try LogWriter.open(directory: dir.path)
        var results: [AppendResult] = []
        for i in 0..<10 { results.append(try await w.appendBegin(Samples.begin(i)).result) }
        try await w.close()
        let name = dir.segmentFiles()[0]
        var b = dir.bytes(name)
        b[Int(results[4].position.offset) + 50] ^= 0x40
        dir.write(name, b)
        unlink(dir.path + "/" + Checkpoint.fileName)
        let w2 = try LogWriter.open(directory: dir.path)
        #expect(w2.nextSequence == 11)
        _ = try await w2.appendBegin(Samples.begin(10))
        try await w2.close()
        #expect(dir.segmentFiles().count == 2)
        let it = try LogReader(directory: dir.path).records()
        #expect(Array(it).map(\.sequence) == [1, 2, 3, 4, 6, 7, 8, 9, 10, 11])
        #expect(it.damage.count == 1 && it.damage[0].offset == results[4].position.offset)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The CHECKPOINT file (format 1.1): opening reads only the bytes after it, and a checkpoint that does not match the
/// segment is ignored.
@Suite struct CheckpointTests {
    /// A writer appends 9 records and syncs (checkpoint), then 3 more that are only written; the directory is copied
    /// while the writer still runs (what kill -9 leaves). Cutting the copy at every offset of those 3 records:
    /// recovery starts at the checkpoint, and keeps exactly the records before the cut. Cuts inside the checkpointed
    /// part make the checkpoint unusable (longer than the file): a full scan gives the same answer.
    @Test func recoveryStartsAtTheCheckpointAndTruncatesATornTail() async throws {
        let source = TempDirectory(); defer { source.remove() }
        let w = try LogWriter.open(directory: source.path, options: LogWriterOptions(syncPolicy: .none))
        var results: [AppendResult] = []
        for i in 0..<9 { results.append(try await w.appendBegin(Samples.begin(i)).result) }
        try await w.sync()
        for i in 9..<12 { results.append(try await w.appendBegin(Samples.begin(i)).result) }
        let name = source.segmentFiles()[0]
        let full = source.bytes(name)
        let checkpointBytes = source.bytes(Checkpoint.fileName)
        try await w.close()
        let checkpoint = try #require(checkpointBytes.withUnsafeBytes { Checkpoint.decode($0) })
        #expect(checkpoint.length == results[9].position.offset && checkpoint.nextSequence == 10)
        #expect(checkpoint.nextExchangeID == 10 && checkpoint.lastFrameOffset == results[8].position.offset)

        let dir = TempDirectory(); defer { dir.remove() }
        let ends = results.dropFirst().map { Int($0.position.offset) } + [full.count]
        for cut in Int(results[8].position.offset)..<full.count {
            try? FileManagerShim.removeAll(in: dir.path)
            dir.write(name, Array(full[0..<cut]))
            dir.write(Checkpoint.fileName, checkpointBytes)
            let kept = ends.filter { $0 <= cut }.count
            let r = try SegmentRecovery.recover(directory: dir.path, base: 1, checkpoint: Checkpoint.read(directory: dir.path))
            #expect(r.usedCheckpoint == (cut >= Int(checkpoint.length)), "cut at \(cut)")
            #expect(r.lastSequence == UInt64(kept) && r.maxBeginExchangeID == UInt64(kept), "cut at \(cut)")
            #expect(!r.damagedInside && dir.bytes(name).count == ends[kept - 1], "cut at \(cut)")
            let w2 = try LogWriter.open(directory: dir.path, options: LogWriterOptions(syncPolicy: .none))
            #expect(w2.nextSequence == UInt64(kept + 1) && w2.nextExchangeID == UInt64(kept + 1), "cut at \(cut)")
            _ = try await w2.appendBegin(Samples.begin(99))
            try await w2.close()
            let it = try LogReader(directory: dir.path).records()
            #expect(Array(it).map(\.sequence) == Array(1...UInt64(kept + 1)) && it.damage.isEmpty, "cut at \(cut)")
        }
    }

    /// Checkpoints that do not describe the active segment as it is are ignored: the whole segment is read.
    @Test func unusableCheckpointsAreIgnored() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let w = try LogWriter.open(directory: dir.path)
        for i in 0..<5 { _ = try await w.appendBegin(Samples.begin(i)) }
        try await w.close()
        let good = try #require(Checkpoint.read(directory: dir.path))
        let size = UInt64(dir.bytes(dir.segmentFiles()[0]).count)
        #expect(good.length == size && good.segment == 1 && good.nextSequence == 6 && good.nextExchangeID == 6)
        var variants: [[UInt8]] = []
        var other = good; other.segment = 7; variants.append(other.encoded())
        var longer = good; longer.length += 1; variants.append(longer.encoded())
        var shifted = good; shifted.lastFrameOffset += 1; variants.append(shifted.encoded())
        var wrongSequence = good; wrongSequence.nextSequence = 3; variants.append(wrongSequence.encoded())
        var flipped = good.encoded(); flipped[30] ^= 1; variants.append(flipped)
        variants.append(Array(good.encoded().prefix(40)))
        variants.append(Array("not a checkpoint at all, but long enough to look like one if nobody checks".utf8))
        for (k, bytes) in variants.enumerated() {
            dir.write(Checkpoint.fileName, bytes)
            let r = try SegmentRecovery.recover(directory: dir.path, base: 1, checkpoint: Checkpoint.read(directory: dir.path))
            #expect(!r.usedCheckpoint && r.lastSequence == 5 && r.maxBeginExchangeID == 5, "variant \(k)")
            let w2 = try LogWriter.open(directory: dir.path)
            #expect(w2.nextSequence == 6 && w2.nextExchangeID == 6, "variant \(k)")
            try await w2.close()
        }
        dir.write(Checkpoint.fileName, good.encoded())
        let r = try SegmentRecovery.recover(directory: dir.path, base: 1, checkpoint: Checkpoint.read(directory: dir.path))
        #expect(r.usedCheckpoint && r.lastSequence == 5 && r.maxBeginExchangeID == 5)
    }

    /// The group-commit thread records a checkpoint after its fsync, without any sync() or close.
    @Test func groupCommitRecordsCheckpoints() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        var options = LogWriterOptions(syncPolicy: .batch)
        options.batchSyncIntervalMs = 5
        let w = try LogWriter.open(directory: dir.path, options: options)
        for i in 0..<20 { _ = try await w.appendBegin(Samples.begin(i)) }
        let size = UInt64(dir.bytes(dir.segmentFiles()[0]).count)
        let deadline = ContinuousClock.now + .seconds(20)
        while Checkpoint.read(directory: dir.path)?.length != size && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let c = try #require(Checkpoint.read(directory: dir.path))
        #expect(c.length == size && c.nextSequence == 21 && c.nextExchangeID == 21)
        try await w.close()
    }

    /// Appends do not wake the group-commit thread unless it is parked (after `parkAfterIdleRounds` idle
    /// intervals), yet every write is fsync'd (its checkpoint recorded) soon after, whichever state the thread was
    /// in: right after an fsync (idle checks with a deadline), and parked after a long pause.
    @Test func groupCommitSyncsWritesWhetherIdleOrParked() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        var options = LogWriterOptions(syncPolicy: .batch)
        options.batchSyncIntervalMs = 10
        let w = try LogWriter.open(directory: dir.path, options: options)
        func appendAndAwaitCheckpoint(_ i: Int) async throws {
            _ = try await w.appendBegin(Samples.begin(i))
            let size = UInt64(dir.bytes(dir.segmentFiles()[0]).count)
            let deadline = ContinuousClock.now + .seconds(20)
            while Checkpoint.read(directory: dir.path)?.length != size && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(Checkpoint.read(directory: dir.path)?.length == size, "record \(i) was not fsync'd")
        }
        try await appendAndAwaitCheckpoint(0)
        try await Task.sleep(for: .milliseconds(25))    // idle checks, not parked yet
        try await appendAndAwaitCheckpoint(1)
        try await Task.sleep(for: .milliseconds(10 * (GroupCommit.parkAfterIdleRounds + 5)))   // parked
        try await appendAndAwaitCheckpoint(2)
        try await appendAndAwaitCheckpoint(3)   // right after an fsync
        try await w.close()
    }

    /// Damage before a usable checkpoint cannot come from a crash and is not looked for on open: the writer goes on
    /// in the same segment; readers and verify still report the damaged record and read every other one.
    @Test func damageBeforeTheCheckpointIsLeftToVerify() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let w = try LogWriter.open(directory: dir.path)
        var results: [AppendResult] = []
        for i in 0..<10 { results.append(try await w.appendBegin(Samples.begin(i)).result) }
        try await w.close()
        let name = dir.segmentFiles()[0]
        var b = dir.bytes(name)
        b[Int(results[4].position.offset) + 50] ^= 0x40
        dir.write(name, b)
        let w2 = try LogWriter.open(directory: dir.path)
        #expect(w2.nextSequence == 11 && w2.nextExchangeID == 11)
        _ = try await w2.appendBegin(Samples.begin(10))
        try await w2.close()
        #expect(dir.segmentFiles().count == 1)
        let it = try LogReader(directory: dir.path).records()
        #expect(Array(it).map(\.sequence) == [1, 2, 3, 4, 6, 7, 8, 9, 10, 11])
        #expect(it.damage.count == 1 && it.damage[0].offset == results[4].position.offset)
        let s = try LogInspector.inspect(directory: dir.path, decode: true)
        #expect(s.damage.count == 1 && s.damage[0].kind == .corrupt)
    }
}

enum FileManagerShim {
    static func removeAll(in dir: String) throws {
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) { try FileManager.default.removeItem(atPath: dir + "/" + f) }
    }
}
