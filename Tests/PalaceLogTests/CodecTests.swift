import Testing
@testable import PalaceLog

/// The CRC and LZ4 paths that must agree whatever the CPU or compressor.
@Suite struct CodecTests {
    /// The hardware CRC32C (when the CPU has one) equals the table implementation for every length and alignment,
    /// and continues across splits.
    @Test func hardwareAndPortableCRCAgree() {
        var r = SeededRandom(seed: 7)
        let data = (0..<4099).map { _ in UInt8.random(in: 0...255, using: &r) }
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        data.withUnsafeBytes { all in
            for start in 0..<9 {
                for length in [0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 1000, 4090 - start] {
                    let b = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    #expect(CRC32C.update(0, b) == CRC32C.portableUpdate(0, b), "start \(start) length \(length)")
                    let cut = length / 3
                    let split = CRC32C.update(CRC32C.update(0, UnsafeRawBufferPointer(rebasing: b[0..<cut])),
                                              UnsafeRawBufferPointer(rebasing: b[cut...]))
                    #expect(split == CRC32C.update(0, b))
                }
            }
        }
    }

    /// LZ4HC and LZ4 fast write the same block format: both decode with the same call, with and without the
    /// dictionary; HC is never larger than fast on realistic text and raw storage still applies when nothing shrinks.
    @Test func highAndFastCompressionDecodeAlike() throws {
        var r = SeededRandom(seed: 3)
        var inputs: [[UInt8]] = []
        let event = #"data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":"kimi-k2","choices":[{"index":0,"delta":{"content":"#
        for n in [16, 600, 5000, 70_000] {
            var s: [UInt8] = []
            while s.count < n { s += Array((event + "\"" + String(Int.random(in: 0...99_999, using: &r)) + "\"}}]}\n\n").utf8) }
            inputs.append(Array(s.prefix(n)))
            inputs.append((0..<n).map { _ in UInt8.random(in: 0...255, using: &r) })
        }
        var scratch: [UInt8] = []
        for input in inputs {
            for dict in [UInt16(0), 1, 2] {
                let fast = LZ4Codec.encode(input, compress: true, dictionaryID: dict, high: false)
                let high = LZ4Codec.encode(input, compress: true, dictionaryID: dict, high: true)
                for stored in [fast, high] {
                    let back = try stored.bytes.withUnsafeBytes { b in
                        try LZ4Codec.decode(b, codec: stored.codec.rawValue, dictionaryID: stored.dictionaryID,
                                            rawLength: stored.rawLength, scratch: &scratch) { Array($0) }
                    }
                    #expect(back == input)
                    #expect(stored.payloadCRC == CRC32C.checksum(stored.bytes))
                }
                if fast.codec == .lz4 && input.count >= LZ4Codec.highMinBytes { #expect(high.bytes.count <= fast.bytes.count) }
            }
        }
    }

    /// The HC budget lets a burst of one second's worth through, then falls back to fast compression.
    @Test func compressionBudgetLimitsHighCompression() {
        let budget = CompressionBudget(bytesPerSecond: 1_000_000)
        var granted = 0
        for _ in 0..<100 where budget.takeHigh(100_000) { granted += 1 }
        #expect(granted >= 10 && granted <= 12)
        #expect(!CompressionBudget(bytesPerSecond: 0).takeHigh(100_000))
        #expect(!CompressionBudget(bytesPerSecond: 1 << 30).takeHigh(100))  // tiny records are always fast
        // Records below `minBytes` (a typical chat exchange's) are fast even with budget to spare.
        #expect(!CompressionBudget(bytesPerSecond: 1 << 30).takeHigh(CompressionBudget.minBytes - 1))
        #expect(CompressionBudget(bytesPerSecond: 1 << 30).takeHigh(CompressionBudget.minBytes))
    }
}
