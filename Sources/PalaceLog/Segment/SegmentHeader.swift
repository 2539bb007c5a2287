/// The 48-byte header at the start of every segment file (FORMAT.md, "Segment header"). Little-endian.
///
/// Invariant: a segment file never exists without a complete header — the writer creates segments as a
/// temporary file, writes and fsyncs the header, then renames it into place.
struct SegmentHeader: Equatable {
    static let magic: [UInt8] = Array("MPLOGSEG".utf8)
    static let formatVersion: UInt16 = 1
    static let size = 48

    /// Sequence number of the first record written to this segment (records may be missing after compaction).
    var baseSequence: UInt64
    /// Unix microseconds.
    var createdAt: Int64
    /// The exchange id the writer would assign next when it created this segment (1 + highest id before it).
    var nextExchangeID: UInt64
    /// Where the first frame starts (≥ 48; larger in future versions that extend the header).
    var headerSize: Int = SegmentHeader.size

    func encoded() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: Self.size)
        b.replaceSubrange(0..<8, with: Self.magic)
        b.putLE(Self.formatVersion, at: 8)
        b.putLE(UInt16(Self.size), at: 10)
        b.putLE(UInt32(0), at: 12)
        b.putLE(baseSequence, at: 16)
        b.putLE(UInt64(bitPattern: createdAt), at: 24)
        b.putLE(nextExchangeID, at: 32)
        b.putLE(UInt32(0), at: 40)
        b.putLE(CRC32C.checksum(b[0..<44]), at: 44)
        return b
    }

    enum Problem: Error, CustomStringConvertible {
        case short(Int), badMagic, unsupportedVersion(UInt16), badChecksum, badSize(UInt16)
        var description: String {
            switch self {
            case .short(let n): "file is \(n) bytes, shorter than a segment header"
            case .badMagic: "bad magic, not a segment file"
            case .unsupportedVersion(let v): "format version \(v) is newer than this moonpalace understands (1)"
            case .badChecksum: "header checksum mismatch"
            case .badSize(let n): "header size \(n) is invalid"
            }
        }
    }

    static func decode(_ b: UnsafeRawBufferPointer) throws(Problem) -> SegmentHeader {
        guard b.count >= size else { throw .short(b.count) }
        guard Array(b[0..<8]) == magic else { throw .badMagic }
        let crc = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: b[0..<44]))
        guard crc == b.le(UInt32.self, 44) else { throw .badChecksum }
        let version = b.le(UInt16.self, 8)
        guard version == formatVersion else { throw .unsupportedVersion(version) }
        let hs = b.le(UInt16.self, 10)
        guard hs >= size else { throw .badSize(hs) }
        return SegmentHeader(baseSequence: b.le(UInt64.self, 16), createdAt: Int64(bitPattern: b.le(UInt64.self, 24)),
                             nextExchangeID: b.le(UInt64.self, 32), headerSize: Int(hs))
    }
}

extension Array where Element == UInt8 {
    mutating func putLE<T: FixedWidthInteger>(_ v: T, at offset: Int) {
        withUnsafeMutableBytes { $0.storeBytes(of: v.littleEndian, toByteOffset: offset, as: T.self) }
    }
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    func le<T: FixedWidthInteger>(_: T.Type, _ offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
