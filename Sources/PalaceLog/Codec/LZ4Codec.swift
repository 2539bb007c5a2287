import CLZ4
import Synchronization

/// Payload codecs of a frame (FORMAT.md, "Frame").
enum Codec: UInt8 {
    case raw = 0, lz4 = 1
}

/// An encoded payload as it will be stored: the bytes, their codec and dictionary, the raw length and the
/// CRC32C of the stored bytes (the writer continues it over the frame header).
struct StoredPayload: Sendable {
    var bytes: [UInt8]
    var rawLength: Int
    var codec: Codec
    var dictionaryID: UInt16
    var payloadCRC: UInt32
}

/// LZ4 block compression, one block per record, optionally with a shipped dictionary. Two compressors write the same
/// block format (readers cannot tell them apart): LZ4 "fast" and LZ4HC (`highLevel`), which stores a typical
/// record 15–20 % smaller at about 5× the CPU; `LogWriter` uses HC within a byte-rate budget (`CompressionBudget`).
/// Thread-safe: each call borrows a private LZ4 stream from a pool.
enum LZ4Codec {
    /// The LZ4HC level of high-compression records: most of HC's gain on log records at a fraction of level 9's cost.
    static let highLevel: Int32 = 3
    /// Smaller payloads always use the fast compressor: HC's fixed cost (a 256 KiB state copy) would dominate.
    static let highMinBytes = 512

    /// Working streams, reused; the dictionary's prepared stream is attached to them per record
    /// (`LZ4_attach_dictionary`: neither a dictionary load nor a state copy).
    private static let pool = StreamPool(bytes: MemoryLayout<LZ4_stream_t>.size, keep: 64)
    private static let poolHC = StreamPool(bytes: MemoryLayout<LZ4_streamHC_t>.size, keep: 8)

    /// Raw LZ4 stream states owned by whoever took them out of the pool (one user at a time).
    private final class StreamPool: Sendable {
        private struct Box: @unchecked Sendable { let p: UnsafeMutableRawPointer }
        private let free = Mutex<[Box]>([])
        private let bytes: Int
        private let keep: Int
        init(bytes: Int, keep: Int) { self.bytes = bytes; self.keep = keep }

        /// A state from the pool, or a new one (`fresh` is true: uninitialised).
        func borrow() -> (UnsafeMutableRawPointer, fresh: Bool) {
            if let b = free.withLock({ $0.popLast() }) { return (b.p, false) }
            return (.allocate(byteCount: bytes, alignment: 16), true)
        }

        func giveBack(_ p: UnsafeMutableRawPointer) {
            let box = Box(p: p)
            let kept = free.withLock { f -> Bool in
                if f.count < keep { f.append(box); return true }
                return false
            }
            if !kept { p.deallocate() }
        }
    }

    /// Compresses `raw` (with dictionary `dictionaryID` unless 0; with LZ4HC when `high`); stores it raw when LZ4
    /// does not shrink it.
    static func encode(_ raw: [UInt8], compress: Bool, dictionaryID: UInt16, high: Bool = false) -> StoredPayload {
        if compress, raw.count >= 16, raw.count <= Int(LZ4_MAX_INPUT_SIZE) {
            let dict = dictionaryID == 0 ? nil : LZ4Dictionary.named(dictionaryID)
            let bound = Int(LZ4_compressBound(Int32(raw.count)))
            let useHC = high && raw.count >= highMinBytes
            let out = [UInt8](unsafeUninitializedCapacity: bound) { buf, count in
                count = raw.withUnsafeBytes { src in
                    let s = src.baseAddress!.assumingMemoryBound(to: CChar.self)
                    let d = UnsafeMutableRawPointer(buf.baseAddress!).assumingMemoryBound(to: CChar.self)
                    return useHC ? compressHC(s, d, Int32(raw.count), Int32(bound), dict)
                        : compressFast(s, d, Int32(raw.count), Int32(bound), dict)
                }
            }
            if out.count > 0 && out.count < raw.count {
                let crc = out.withUnsafeBytes { CRC32C.update(0, $0) }
                return StoredPayload(bytes: out, rawLength: raw.count, codec: .lz4,
                                     dictionaryID: dict?.id ?? 0, payloadCRC: crc)
            }
        }
        let crc = raw.withUnsafeBytes { CRC32C.update(0, $0) }
        return StoredPayload(bytes: raw, rawLength: raw.count, codec: .raw, dictionaryID: 0, payloadCRC: crc)
    }

    private static func compressFast(_ src: UnsafePointer<CChar>, _ dst: UnsafeMutablePointer<CChar>, _ n: Int32,
                                     _ bound: Int32, _ dict: LZ4Dictionary?) -> Int {
        let (raw, fresh) = pool.borrow()
        defer { pool.giveBack(raw) }
        let stream = raw.assumingMemoryBound(to: LZ4_stream_t.self)
        if fresh { _ = LZ4_initStream(stream, MemoryLayout<LZ4_stream_t>.size) }
        LZ4_resetStream_fast(stream)
        // The prepared dictionary stream is referenced in place for this one call (no 16 KiB state copy).
        if let dict { LZ4_attach_dictionary(stream, dict.prepared) }
        return Int(LZ4_compress_fast_continue(stream, src, dst, n, bound, 1))
    }

    private static func compressHC(_ src: UnsafePointer<CChar>, _ dst: UnsafeMutablePointer<CChar>, _ n: Int32,
                                   _ bound: Int32, _ dict: LZ4Dictionary?) -> Int {
        let (raw, fresh) = poolHC.borrow()
        defer { poolHC.giveBack(raw) }
        let stream = raw.assumingMemoryBound(to: LZ4_streamHC_t.self)
        if fresh { _ = LZ4_initStreamHC(stream, MemoryLayout<LZ4_streamHC_t>.size) }
        LZ4_resetStreamHC_fast(stream, highLevel)
        if let dict { LZ4_attach_HC_dictionary(stream, dict.preparedHC) }  // no 256 KiB state copy
        return Int(LZ4_compress_HC_continue(stream, src, dst, n, bound))
    }

    enum DecodeFailure: Error {
        case unknownCodec(UInt8)
        case unknownDictionary(UInt16)
        case corrupt(String)
    }

    /// Decompresses a stored payload into exactly `rawLength` bytes, calling `body` with them.
    /// `scratch` is reused between calls to avoid allocating per record.
    static func decode<R>(_ stored: UnsafeRawBufferPointer, codec: UInt8, dictionaryID: UInt16, rawLength: Int,
                          scratch: inout [UInt8],
                          _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        switch codec {
        case Codec.raw.rawValue:
            guard stored.count == rawLength else {
                throw DecodeFailure.corrupt("raw payload of \(stored.count) bytes, frame says \(rawLength)")
            }
            return try body(stored)
        case Codec.lz4.rawValue:
            var dict: LZ4Dictionary?
            if dictionaryID != 0 {
                guard let d = LZ4Dictionary.named(dictionaryID) else { throw DecodeFailure.unknownDictionary(dictionaryID) }
                dict = d
            }
            if scratch.count < rawLength { scratch = [UInt8](repeating: 0, count: max(rawLength, 64 << 10)) }
            let n: Int32 = scratch.withUnsafeMutableBytes { dst in
                let src = stored.baseAddress!.assumingMemoryBound(to: CChar.self)
                let out = dst.baseAddress!.assumingMemoryBound(to: CChar.self)
                if let dict {
                    return LZ4_decompress_safe_usingDict(src, out, Int32(stored.count), Int32(rawLength),
                                                         dict.bytes, dict.count)
                }
                return LZ4_decompress_safe(src, out, Int32(stored.count), Int32(rawLength))
            }
            guard Int(n) == rawLength else {
                throw DecodeFailure.corrupt(n < 0 ? "LZ4 block is malformed" : "LZ4 block decodes to \(n) bytes, frame says \(rawLength)")
            }
            return try scratch.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<rawLength])) }
        default:
            throw DecodeFailure.unknownCodec(codec)
        }
    }
}
