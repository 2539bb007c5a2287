import CLZ4
import CPalaceDict
import Synchronization

/// A shipped LZ4 dictionary, addressed by the 16-bit id stored in each frame (FORMAT.md, "Dictionary").
/// The bytes are a static C array (never freed); `prepared` is an LZ4 stream with the dictionary loaded once,
/// which compressors attach (`LZ4_attach_dictionary`, read-only) instead of reloading the dictionary for every
/// record. Both are read-only after init.
final class LZ4Dictionary: @unchecked Sendable {
    /// The dictionary new records are compressed with.
    static let currentID: UInt16 = 2

    let id: UInt16
    let bytes: UnsafePointer<CChar>
    let count: Int32
    let prepared: UnsafeMutablePointer<LZ4_stream_t>
    /// The same for LZ4HC at `LZ4Codec.highLevel` (256 KiB; attached per high-compression record).
    let preparedHC: UnsafeMutablePointer<LZ4_streamHC_t>

    private init?(id: UInt16) {
        var size = 0
        guard id != 0, let p = palace_dictionary(UInt32(id), &size), size > 0, size <= Int(Int32.max) else { return nil }
        self.id = id
        bytes = UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self)
        count = Int32(size)
        prepared = .allocate(capacity: 1)
        _ = LZ4_initStream(prepared, MemoryLayout<LZ4_stream_t>.size)
        _ = LZ4_loadDict(prepared, bytes, count)
        preparedHC = .allocate(capacity: 1)
        _ = LZ4_initStreamHC(preparedHC, MemoryLayout<LZ4_streamHC_t>.size)
        LZ4_resetStreamHC_fast(preparedHC, LZ4Codec.highLevel)
        _ = LZ4_loadDictHC(preparedHC, bytes, count)
    }

    private static let loaded = Mutex<[UInt16: LZ4Dictionary]>([:])

    /// The current dictionary, loaded once (the per-record fast path of `named`).
    private static let current: LZ4Dictionary? = load(currentID)

    /// The dictionary with this id, or nil when this build does not ship it.
    static func named(_ id: UInt16) -> LZ4Dictionary? {
        id == currentID ? current : load(id)
    }

    private static func load(_ id: UInt16) -> LZ4Dictionary? {
        loaded.withLock { table in
            if let d = table[id] { return d }
            guard let d = LZ4Dictionary(id: id) else { return nil }
            table[id] = d
            return d
        }
    }

    /// CRC32C of the dictionary bytes (printed by `log stat`, listed in FORMAT.md).
    var checksum: UInt32 { CRC32C.update(0, UnsafeRawBufferPointer(start: bytes, count: Int(count))) }
}
