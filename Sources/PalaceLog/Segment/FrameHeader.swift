/// The 44-byte header in front of every record payload (FORMAT.md, "Frame"). Little-endian.
///
/// ```
/// 0  sync       FE 4D 50 4C            4  crc32c   CRC32C(stored payload ‖ header bytes 8..<44)
/// 8  stored     u32 payload bytes      12 raw      u32 payload bytes after decompression
/// 16 type u8    17 codec u8            18 dict     u16 dictionary id (0 = none)
/// 20 sequence   u64                    28 exchange u64 (0 for tombstones)
/// 36 timestamp  i64 Unix µs            44 payload  `stored` bytes
/// ```
struct FrameHeader: Equatable {
    static let sync: [UInt8] = [0xFE, 0x4D, 0x50, 0x4C]
    static let syncValue: UInt32 = 0x4C50_4DFE  // the sync bytes read as a little-endian u32
    static let size = 44
    /// Largest payload a frame may declare (stored or raw); longer lengths are treated as damage.
    static let maxPayload = 256 << 20

    var crc: UInt32
    var storedLength: UInt32
    var rawLength: UInt32
    var type: UInt8
    var codec: UInt8
    var dictionaryID: UInt16
    var sequence: UInt64
    var exchangeID: UInt64
    var timestamp: Int64

    var frameLength: Int { Self.size + Int(storedLength) }

    /// Appends the header to `out`, computing the CRC from `payloadCRC` (the CRC32C of the stored payload).
    func write(into out: inout [UInt8], payloadCRC: UInt32) {
        withUnsafeTemporaryAllocation(byteCount: Self.size, alignment: 8) { b in
            b.storeBytes(of: Self.syncValue.littleEndian, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: storedLength.littleEndian, toByteOffset: 8, as: UInt32.self)
            b.storeBytes(of: rawLength.littleEndian, toByteOffset: 12, as: UInt32.self)
            b.storeBytes(of: type, toByteOffset: 16, as: UInt8.self)
            b.storeBytes(of: codec, toByteOffset: 17, as: UInt8.self)
            b.storeBytes(of: dictionaryID.littleEndian, toByteOffset: 18, as: UInt16.self)
            b.storeBytes(of: sequence.littleEndian, toByteOffset: 20, as: UInt64.self)
            b.storeBytes(of: exchangeID.littleEndian, toByteOffset: 28, as: UInt64.self)
            b.storeBytes(of: UInt64(bitPattern: timestamp).littleEndian, toByteOffset: 36, as: UInt64.self)
            let crc = CRC32C.update(payloadCRC, UnsafeRawBufferPointer(rebasing: b[8..<Self.size]))
            b.storeBytes(of: crc.littleEndian, toByteOffset: 4, as: UInt32.self)
            out.append(contentsOf: UnsafeRawBufferPointer(b))
        }
    }

    /// Parses a header from 44 bytes; nil when the sync marker is missing or a length is impossible.
    static func parse(_ b: UnsafeRawBufferPointer) -> FrameHeader? {
        guard b.count >= size, b.le(UInt32.self, 0) == syncValue else { return nil }
        let h = FrameHeader(crc: b.le(UInt32.self, 4), storedLength: b.le(UInt32.self, 8),
                            rawLength: b.le(UInt32.self, 12), type: b[16], codec: b[17],
                            dictionaryID: b.le(UInt16.self, 18), sequence: b.le(UInt64.self, 20),
                            exchangeID: b.le(UInt64.self, 28), timestamp: Int64(bitPattern: b.le(UInt64.self, 36)))
        guard Int(h.storedLength) <= maxPayload, Int(h.rawLength) <= maxPayload else { return nil }
        return h
    }

    /// Whether `frame` (header followed by the stored payload) carries this header's CRC.
    static func checksumMatches(_ frame: UnsafeRawBufferPointer, _ h: FrameHeader) -> Bool {
        let payload = UnsafeRawBufferPointer(rebasing: frame[size..<(size + Int(h.storedLength))])
        let crc = CRC32C.update(CRC32C.update(0, payload), UnsafeRawBufferPointer(rebasing: frame[8..<size]))
        return crc == h.crc
    }
}
