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

    /// Damage in the middle of the active segment: records after it are kept (the segment is sealed as is).
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

enum FileManagerShim {
    static func removeAll(in dir: String) throws {
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) { try FileManager.default.removeItem(atPath: dir + "/" + f) }
    }
}
