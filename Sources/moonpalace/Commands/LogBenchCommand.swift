import ArgumentParser
import Foundation
import PalaceLog

/// `moonpalace log _bench` (hidden): the log's figures for `make bench` (Benchmarks/log.sh), run on release code.
struct LogBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_bench", abstract: "Benchmark the log (used by Benchmarks/log.sh).", shouldDisplay: false)

    @Option(help: "Corpus JSON Lines from tools/corpus/generate.py --pool test.") var corpus: String
    @Option(help: "Scratch directory on the disk to measure (emptied first).") var dir: String
    @Option(help: "2 KB records to append.") var smallRecords: Int = 400_000
    @Option(help: "64 KB records to append (16384 = 1 GiB).") var largeRecords: Int = 16_384
    @Option(name: .customLong("open-mib"), help: "Size of the log for the open+recovery figure, in MiB.") var openMiB: Int = 1024
    @Option(name: .customLong("unsynced-mib"), help: "MiB written after the last checkpoint in the crash case of the open figure.") var unsyncedMiB: Int = 8
    @Option(help: "fsync policy for the append figures.") var sync: String = "batch"
    @Flag(help: "Append without compression (to separate codec and I/O costs).") var noCompression = false

    func run() async throws {
        let c = try LogBenchCorpus(path: corpus)
        ratio(c)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)

        let small = dir + "/small"
        let (rate, cpu) = try await append(c.chunks(size: 2048, count: 20_000), total: smallRecords, producers: 64, into: small)
        print(String(format: "append 2 KB records, \(sync) sync: %.0f records/s (%.0f MB/s raw)   budget >= 100000 records/s",
                     rate, rate * 2048 / 1e6))
        print(String(format: "  CPU %.1f us per record (all threads, user+sys) = %.0f records/s if 2 cores were free for it",
                     cpu * 1e6, 2 / cpu))
        let large = dir + "/large"
        let (lrate, lcpu) = try await append(c.chunks(size: 65536, count: 512), total: largeRecords, producers: 16, into: large)
        print(String(format: "append 64 KB records, \(sync) sync: %.0f MB/s raw (%.0f records/s)   budget >= 400 MB/s",
                     lrate * 65536 / 1e6, lrate))
        print(String(format: "  CPU %.1f us per record (all threads, user+sys) = %.0f MB/s if 2 cores were free for it",
                     lcpu * 1e6, 2 / lcpu * 65536 / 1e6))

        for (name, path) in [("2 KB", small), ("64 KB", large)] {
            let (t0, c0) = (now(), threadCPUSeconds())
            let r = try LogScan.payloads(directory: path)
            let (dt, dc) = (now() - t0, threadCPUSeconds() - c0)
            print(String(format: "scan (CRC + LZ4 decompress, one core), %@ records: %.2f GB/s of payload (%d records, %.0f MB, %d damaged)   budget >= 1 GB/s",
                         name, Double(r.rawBytes) / dt / 1e9, r.records, Double(r.rawBytes) / 1e6, r.damaged))
            print(String(format: "  per CPU second of the scanning thread (user+sys, immune to other load): %.2f GB/s",
                         Double(r.rawBytes) / dc / 1e9))
        }
        let t0 = now()
        var n = 0
        let it = try LogReader(directory: small).records()
        while it.next() != nil { n += 1 }
        let dt = now() - t0
        print(String(format: "scan with full decode into records, 2 KB records: %.0f records/s (%.2f GB/s)", Double(n) / dt,
                     Double(n) * 2048 / dt / 1e9))
        try? FileManager.default.removeItem(atPath: small)
        try? FileManager.default.removeItem(atPath: large)
        try await openFigure(MiB: openMiB)
    }

    func ratio(_ c: LogBenchCorpus) {
        // Sums over all / SSE / JSON exchanges: raw, then stored with (dictionary, HC), (dictionary, fast),
        // (no dictionary, HC), (no dictionary, fast).
        var raw = [0, 0, 0]
        var stored = [[Int]](repeating: [0, 0, 0], count: 4)
        let modes: [(UInt16, Bool)] = [(LogRecordEncoding.currentDictionaryID, true), (LogRecordEncoding.currentDictionaryID, false),
                                       (0, true), (0, false)]
        for item in c.items {
            for rec in [LogRecord.begin(item.begin), .end(item.end)] {
                let sizes = modes.map { LogRecordEncoding.sizes(of: rec, dictionaryID: $0.0, high: $0.1) }
                for k in [0, item.stream ? 1 : 2] {
                    raw[k] += sizes[0].raw
                    for m in 0..<4 { stored[m][k] += sizes[m].stored }
                }
            }
        }
        let sse = c.items.filter(\.stream).count
        print("corpus: \(c.items.count) exchanges (\(sse) SSE, \(c.items.count - sse) JSON), \(raw[0]) payload bytes "
              + "(begin + end records as the proxy writes them, merged completion included)")
        for (k, name) in ["all", "SSE exchanges", "JSON exchanges"].enumerated() {
            let r = stored.map { Double(raw[k]) / Double($0[k]) }
            print(String(format: "compression ratio, %@: %.2fx with dictionary %d (%.2fx fast), %.2fx without (%.2fx fast)%@",
                         name, r[0], Int(LogRecordEncoding.currentDictionaryID), r[1], r[2], r[3],
                         k == 0 ? "   budget >= 10x with dictionary (HC: the writer's mode up to 2 MiB/s of payload)" : ""))
        }
    }

    /// Appends `total` records cycling through `records` from `producers` concurrent tasks;
    /// returns records/s and CPU seconds (whole process, user + sys) per record.
    func append(_ records: [LogRecord], total: Int, producers: Int, into path: String) async throws -> (Double, Double) {
        let cpu0 = cpuSeconds()
        try? FileManager.default.removeItem(atPath: path)
        var options = LogWriterOptions(syncPolicy: SyncPolicy(rawValue: sync) ?? .batch)
        options.compression = !noCompression
        let writer = try LogWriter.open(directory: path, options: options)
        let t0 = now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<producers {
                group.addTask {
                    var i = p
                    while i < total {
                        _ = try await writer.append(records[i % records.count])
                        i += producers
                    }
                }
            }
            try await group.waitForAll()
        }
        try await writer.sync()
        let dt = now() - t0
        try await writer.close()
        return (Double(total) / dt, (cpuSeconds() - cpu0) / Double(total))
    }

    /// CPU time of the calling thread (the scan runs on one thread from start to end: no suspension inside).
    func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec)
            + Double(u.ru_stime.tv_usec) / 1e6
    }

    /// Builds a log of `MiB` on disk (stored raw) and times open + recovery (cold page cache when this process may
    /// drop it) in three states: after a crash that left `unsyncedMiB` written after the last checkpoint (what
    /// kill -9 leaves under the batch policy: the group-commit interval's writes) and a torn record; after a clean
    /// close and a torn record; and without any CHECKPOINT (a 1.0 log: the whole active segment is read).
    func openFigure(MiB: Int) async throws {
        let path = dir + "/open"
        try? FileManager.default.removeItem(atPath: path)
        var options = LogWriterOptions(syncPolicy: .none)
        options.compression = false
        let writer = try LogWriter.open(directory: path, options: options)
        let chunk = LogRecord.chunk(ExchangeChunk(exchangeID: 1, direction: .response, offset: 0,
                                                  bytes: (0..<65_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
        let count = MiB * 16
        let tail = min(count / 2, unsyncedMiB * 16)
        func write(_ range: Range<Int>) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for p in 0..<8 {
                    group.addTask { var i = range.lowerBound + p; while i < range.upperBound { _ = try await writer.append(chunk); i += 8 } }
                }
                try await group.waitForAll()
            }
        }
        try await write(0..<(count - tail))
        try await writer.sync()
        let checkpointPath = path + "/CHECKPOINT"
        let synced = FileManager.default.contents(atPath: checkpointPath)
        try await write((count - tail)..<count)
        try await writer.close()
        let segs = try LogReader(directory: path).segments()
        let total = (try? FileManager.default.contentsOfDirectory(atPath: path))?.reduce(UInt64(0)) { acc, name in
            acc + ((try? FileManager.default.attributesOfItem(atPath: path + "/" + name)[.size] as? UInt64) ?? 0)
        } ?? 0
        // A torn record: the first 30 bytes of a frame header at the end of the active segment.
        func tear() throws {
            let segs = try LogReader(directory: path).segments()
            if let last = segs.last, let h = FileHandle(forWritingAtPath: path + "/" + SegmentName.fileName(for: last)) {
                h.seekToEndOfFile()
                h.write(Data([0xFE, 0x4D, 0x50, 0x4C] + [UInt8](repeating: 0x11, count: 26)))
                try h.close()
            }
        }
        func timeOpen(_ label: String) async throws {
            try tear()
            let cold = FileManager.default.isWritableFile(atPath: "/proc/sys/vm/drop_caches")
                && (try? "3".write(toFile: "/proc/sys/vm/drop_caches", atomically: false, encoding: .utf8)) != nil
            let t0 = now()
            let reopened = try LogWriter.open(directory: path)
            let dt = now() - t0
            try await reopened.close()
            print(String(format: "open + recovery of a %.2f GiB log (%d segments, %@, torn tail truncated, %@ page cache): %.0f ms   budget <= 1000 ms",
                         Double(total) / Double(1 << 30), segs.count, label, cold ? "cold" : "warm", dt * 1000))
        }
        // Crash: the checkpoint as the last fsync before the final writes left it.
        if let synced { FileManager.default.createFile(atPath: checkpointPath, contents: synced) }
        try await timeOpen("crash: \(tail / 16) MiB written after the last checkpoint")
        try await timeOpen("after a clean close")
        try? FileManager.default.removeItem(atPath: checkpointPath)
        try await timeOpen("no CHECKPOINT (a 1.0 log: whole active segment read)")
        try? FileManager.default.removeItem(atPath: path)
    }

    func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
