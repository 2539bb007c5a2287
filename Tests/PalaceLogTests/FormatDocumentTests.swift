import Foundation
import Testing
@testable import PalaceLog

/// FORMAT.md is the specification: its worked example must decode, byte for byte, to the record it describes.
@Suite struct FormatDocumentTests {
    static let formatPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("FORMAT.md").path

    /// The bytes of the hex block that follows `marker` in FORMAT.md (`0000: 4d 50 …` lines).
    static func hexBlock(after marker: String) throws -> [UInt8] {
        let text = try String(contentsOfFile: formatPath, encoding: .utf8)
        let range = try #require(text.range(of: marker))
        let after = text[range.upperBound...]
        let open = try #require(after.range(of: "```\n"))
        let close = try #require(after[open.upperBound...].range(of: "```"))
        var bytes: [UInt8] = []
        for line in after[open.upperBound..<close.lowerBound].split(separator: "\n") {
            let hex = line.split(separator: ":", maxSplits: 1)[1]
            for h in hex.split(separator: " ") { bytes.append(try #require(UInt8(h, radix: 16))) }
        }
        return bytes
    }

    @Test func workedExampleDecodesToTheDocumentedRecord() throws {
        let header = try Self.hexBlock(after: "<!-- example-segment-header -->")
        let frame = try Self.hexBlock(after: "<!-- example-frame -->")
        #expect(header.count == 48 && frame.count == 61)
        let dir = TempDirectory(); defer { dir.remove() }
        dir.write("00000000000000000007.seg", header + frame)
        let reader = try LogReader(directory: dir.path)
        let it = reader.records()
        let records = Array(it)
        #expect(it.damage.isEmpty)
        let expected = StoredRecord(sequence: 7, timestamp: 1_763_925_001_500_000,
                                    position: RecordPosition(segment: 7, offset: 48),
                                    record: .annotation(Annotation(exchangeID: 3, category: "goodcase", addTags: ["demo"])))
        #expect(records == [expected])
        // And our encoder produces the same bytes for that header.
        #expect(SegmentHeader(baseSequence: 7, createdAt: 1_763_925_000_000_000, nextExchangeID: 3).encoded() == header)
        #expect(PayloadEncoding.encode(expected.record) == Array(frame[44...]))
    }

    @Test func documentedConstantsMatchTheCode() throws {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        let dict = try #require(LZ4Dictionary.named(1))
        #expect(dict.count == 65_536)
        let text = try String(contentsOfFile: Self.formatPath, encoding: .utf8)
        #expect(text.contains(String(format: "CRC32C `0x%08X`", dict.checksum)))
        #expect(FrameHeader.size == 44 && SegmentHeader.size == 48 && FrameHeader.maxPayload == 268_435_456)
    }
}
