import CPalaceCRC

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every frame and segment header.
/// Computed by `CPalaceCRC`: the CPU's crc32 instruction when it has one (SSE4.2, ARMv8 CRC), slicing-by-8
/// tables otherwise. `CRC32C.checksum("123456789") == 0xE3069283`.
public enum CRC32C {
    /// Continues `crc` (the checksum of the bytes before) over `bytes`; start with 0.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return palace_crc32c(crc, base, bytes.count)
    }

    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        let array = Array(bytes)
        return array.withUnsafeBytes { update(0, $0) }
    }

    /// The table implementation, whatever the CPU (tests compare it with `update`).
    public static func portableUpdate(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return palace_crc32c_portable(crc, base, bytes.count)
    }

    /// Whether `update` uses a hardware CRC instruction on this machine.
    public static var usesHardware: Bool { palace_crc32c_hardware() != 0 }
}
