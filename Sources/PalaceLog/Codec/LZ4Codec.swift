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

/// LZ4 block compression, one block per record, optionally with a shipped dictionary.
/// Thread-safe: each call borrows a private LZ4 stream from a pool.
enum LZ4Codec {
    /// Working streams, reused so a record costs a 16 KiB state copy instead of a dictionary load.
    private static let pool = Mutex<[StreamBox]>([])

    /// An LZ4 stream owned by whoever took it out of the pool (one user at a time).
    private struct StreamBox: @unchecked Sendable { let stream: UnsafeMutablePointer<LZ4_stream_t> }

    private static func borrow() -> UnsafeMutablePointer<LZ4_stream_t> {
        if let s = pool.withLock({ $0.popLast() }) { return s.stream }
        let s = UnsafeMutablePointer<LZ4_stream_t>.allocate(capacity: 1)
        _ = LZ4_initStream(s, MemoryLayout<LZ4_stream_t>.size)
        return s
    }

    private static func giveBack(_ s: UnsafeMutablePointer<LZ4_stream_t>) {
        let box = StreamBox(stream: s)
        let kept = pool.withLock { p -> Bool in
            if p.count < 64 { p.append(box); return true }
            return false
        }
        if !kept { s.deallocate() }
    }

    /// Compresses `raw` (with dictionary `dictionaryID` unless 0); stores it raw when LZ4 does not shrink it.
    static func encode(_ raw: [UInt8], compress: Bool, dictionaryID: UInt16) -> StoredPayload {
        if compress, raw.count >= 16, raw.count <= Int(LZ4_MAX_INPUT_SIZE) {
            let dict = dictionaryID == 0 ? nil : LZ4Dictionary.named(dictionaryID)
            let bound = Int(LZ4_compressBound(Int32(raw.count)))
            let stream = borrow()
            defer { giveBack(stream) }
            if let dict { stream.update(from: dict.prepared, count: 1) } else { LZ4_resetStream_fast(stream) }
            let out = [UInt8](unsafeUninitializedCapacity: bound) { buf, count in
                count = raw.withUnsafeBytes { src in
                    Int(LZ4_compress_fast_continue(
                        stream, src.baseAddress!.assumingMemoryBound(to: CChar.self),
                        UnsafeMutableRawPointer(buf.baseAddress!).assumingMemoryBound(to: CChar.self),
                        Int32(raw.count), Int32(bound), 1))
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
