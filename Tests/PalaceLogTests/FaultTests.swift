import Foundation
import Synchronization
import Testing
@testable import PalaceLog

/// A file layer that fails writes with ENOSPC while `full` is set (after writing part of the bytes, like a
/// real disk filling up mid-write).
final class FullDisk: Sendable {
    let full = Atomic<Bool>(false)
    var io: FileIO {
        FileIO(write: { [self] fd, bytes in
            if full.load(ordering: .relaxed) {
                if bytes.count > 8 { return FileIO.system.write(fd, UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count / 2)])) }
                return -Int(ENOSPC)
            }
            return FileIO.system.write(fd, bytes)
        }, fsync: FileIO.system.fsync)
    }
}

@Suite struct FaultTests {
    @Test func diskFullFailsAppendsCleanlyAndAppendsResume() async throws {
        let dir = TempDirectory(); defer { dir.remove() }
        let disk = FullDisk()
        var options = LogWriterOptions()
        options.fileIO = disk.io
        let w = try LogWriter.open(directory: dir.path, options: options)
        for i in 0..<5 { _ = try await w.appendBegin(Samples.begin(i)) }
        disk.full.store(true, ordering: .relaxed)
        for i in 0..<3 {
            await #expect(throws: LogError.diskFull(path: dir.path + "/" + SegmentName.fileName(for: 1))) {
                _ = try await w.appendBegin(Samples.begin(100 + i))
            }
        }
        #expect(LogError.diskFull(path: "x").description.contains("no space left"))
        // Still readable, nothing half-written.
        let s = try LogInspector.inspect(directory: dir.path, decode: true)
        #expect(s.records == 5 && s.damage.isEmpty && s.tornTail == nil)
        disk.full.store(false, ordering: .relaxed)
        let (x, r) = try await w.appendBegin(Samples.begin(6))
        #expect(x == 6 && r.sequence == 6)
        try await w.close()
        #expect(Array(try LogReader(directory: dir.path).records()).map(\.sequence) == [1, 2, 3, 4, 5, 6])
    }

    /// The same on a real, small tmpfs (needs root and mount(8); skipped otherwise).
    @Test func realFullTmpfs() async throws {
        let mnt = TempDirectory("tmpfs"); defer { _ = run("/bin/umount", [mnt.path]); mnt.remove() }
        guard getuid() == 0, run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt.path]) == 0 else { return }
        let filler = mnt.path + "/filler"
        FileManager.default.createFile(atPath: filler, contents: Data(count: 512 << 10))
        let logDir = mnt.path + "/log"
        let w = try LogWriter.open(directory: logDir)
        var r = SeededRandom(seed: 5)
        var acked: [UInt64] = []
        var failure: LogError?
        for _ in 0..<100 {
            let body = (0..<65_536).map { _ in UInt8.random(in: 0...255, using: &r) }
            do {
                acked.append(try await w.append(.chunk(ExchangeChunk(exchangeID: 1, direction: .response, offset: 0, bytes: body))).sequence)
            } catch { failure = error; break }
        }
        guard case .diskFull = failure else { Issue.record("expected disk full, got \(String(describing: failure))"); return }
        #expect(Array(try LogReader(directory: logDir).records()).map(\.sequence) == acked)
        try FileManager.default.removeItem(atPath: filler)
        let next = try await w.append(.chunk(ExchangeChunk(exchangeID: 1, direction: .response, offset: 0, bytes: [1, 2, 3])))
        #expect(next.sequence == UInt64(acked.count + 1))
        try await w.close()
        #expect(try LogInspector.inspect(directory: logDir, decode: true).damage.isEmpty)
    }

    func run(_ tool: String, _ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
