/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every frame and segment header.
/// Slicing-by-8: eight 256-entry tables, eight bytes per step. `CRC32C.checksum("123456789") == 0xE3069283`.
public enum CRC32C {
    /// 8 × 256 entries; table k maps a byte that is k positions further from the end of an 8-byte word.
    /// Allocated once, never freed, read-only after initialisation.
    nonisolated(unsafe) private static let table: UnsafeMutablePointer<UInt32> = {
        let t = UnsafeMutablePointer<UInt32>.allocate(capacity: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 {
                let prev = t[(k - 1) * 256 + i]
                t[k * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xFF)]
            }
        }
        return t
    }()

    /// Continues `crc` (the checksum of the bytes before) over `bytes`; start with 0.
    @inlinable
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        compute(crc, bytes)
    }

    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        let array = Array(bytes)
        return array.withUnsafeBytes { compute(0, $0) }
    }

    @usableFromInline
    static func compute(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        let t = table
        var c = ~crc
        var p = base
        var n = bytes.count
        while n >= 8 {
            let v = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)) ^ UInt64(c)
            c = t[7 * 256 + Int(v & 0xFF)] ^ t[6 * 256 + Int((v >> 8) & 0xFF)]
                ^ t[5 * 256 + Int((v >> 16) & 0xFF)] ^ t[4 * 256 + Int((v >> 24) & 0xFF)]
                ^ t[3 * 256 + Int((v >> 32) & 0xFF)] ^ t[2 * 256 + Int((v >> 40) & 0xFF)]
                ^ t[1 * 256 + Int((v >> 48) & 0xFF)] ^ t[Int(v >> 56)]
            p += 8
            n -= 8
        }
        while n > 0 {
            c = t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (c >> 8)
            p += 1
            n -= 1
        }
        return ~c
    }
}
