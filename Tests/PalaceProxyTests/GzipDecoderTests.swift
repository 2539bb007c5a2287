import Foundation
import Testing
@testable import PalaceProxy

@Suite struct GzipDecoderTests {
    /// gzip bytes made by the system's gzip tool (no Foundation compression on Linux).
    func gzipped(_ data: [UInt8]) throws -> [UInt8] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("body")
        try Data(data).write(to: file)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-9", file.path]
        try p.run(); p.waitUntilExit()
        return [UInt8](try Data(contentsOf: dir.appendingPathComponent("body.gz")))
    }

    @Test func decodesAcrossArbitrarySplits() throws {
        let original = (0..<200_000).map { UInt8(truncatingIfNeeded: ($0 * 7) % 251) }
        let gz = try gzipped(original)
        for split in [1, 7, 1000, gz.count] {
            let decoder = GzipDecoder()
            var out: [UInt8] = []
            var i = 0
            while i < gz.count { out += decoder.decode(gz[i..<min(i + split, gz.count)]); i += split }
            #expect(decoder.error == nil)
            #expect(out == original)
        }
    }

    @Test func damagedDataIsReportedNotThrown() {
        let decoder = GzipDecoder()
        _ = decoder.decode([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff])
        #expect(decoder.error != nil)
        #expect(decoder.decode([1, 2, 3]).isEmpty)
    }
}
