/// Wire types of the TLV payload encoding (the protobuf ones; see FORMAT.md, "Exchange encoding").
enum WireType: UInt8 {
    case varint = 0, fixed64 = 1, bytes = 2
}

/// Writes TLV fields: key = varint(tag << 3 | wire type), then the value. Zero/empty values of non-optional
/// fields may be omitted by callers: a reader treats a missing field as zero/empty.
struct TLVWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func varint(_ value: UInt64) { Self.appendVarint(value, to: &bytes) }

    /// The LEB128 varint of `value` appended to `out` (also the packing of `BodyArrivals`).
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    mutating func key(_ tag: UInt32, _ wire: WireType) { varint(UInt64(tag) << 3 | UInt64(wire.rawValue)) }

    mutating func uint(_ tag: UInt32, _ value: UInt64, omitZero: Bool = true) {
        if omitZero && value == 0 { return }
        key(tag, .varint); varint(value)
    }
    /// Signed integers are zigzag-encoded: 0, -1, 1, -2 … → 0, 1, 2, 3 …
    mutating func sint(_ tag: UInt32, _ value: Int64, omitZero: Bool = true) {
        if omitZero && value == 0 { return }
        key(tag, .varint); varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }
    mutating func bool(_ tag: UInt32, _ value: Bool) { if value { key(tag, .varint); varint(1) } }
    mutating func double(_ tag: UInt32, _ value: Double) {
        key(tag, .fixed64)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func bytes(_ tag: UInt32, _ value: [UInt8], omitEmpty: Bool = true) {
        if omitEmpty && value.isEmpty { return }
        key(tag, .bytes); varint(UInt64(value.count)); bytes.append(contentsOf: value)
    }
    mutating func string(_ tag: UInt32, _ value: String, omitEmpty: Bool = true) {
        if omitEmpty && value.isEmpty { return }
        var s = value
        s.withUTF8 { utf8 in
            key(tag, .bytes); varint(UInt64(utf8.count)); bytes.append(contentsOf: utf8)
        }
    }
    /// A nested message: its fields written by `body` into a length-delimited field.
    mutating func message(_ tag: UInt32, _ body: (inout TLVWriter) -> Void) {
        var inner = TLVWriter(capacity: 64)
        body(&inner)
        bytes(tag, inner.bytes, omitEmpty: false)
    }
}

/// Reads TLV fields from a byte range. Unknown tags are skipped by their wire type, so newer writers can add fields.
struct TLVReader {
    private let buffer: UnsafeRawBufferPointer
    private var index: Int
    private let end: Int

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer; index = 0; end = buffer.count }
    private init(_ buffer: UnsafeRawBufferPointer, from: Int, to: Int) { self.buffer = buffer; index = from; end = to }

    struct Malformed: Error { var reason: String }

    var isAtEnd: Bool { index >= end }

    mutating func varint() throws(Malformed) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard index < end else { throw Malformed(reason: "varint runs past the end") }
            let b = buffer[index]
            index += 1
            if shift == 63 && b > 1 { throw Malformed(reason: "varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw Malformed(reason: "varint longer than 10 bytes") }
        }
    }

    /// The next field's tag and wire type, or nil at the end.
    mutating func nextField() throws(Malformed) -> (tag: UInt32, wire: UInt8)? {
        guard index < end else { return nil }
        let k = try varint()
        guard k >> 3 <= UInt64(UInt32.max) else { throw Malformed(reason: "field tag too large") }
        return (UInt32(k >> 3), UInt8(k & 7))
    }

    mutating func sint() throws(Malformed) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }

    mutating func fixed64() throws(Malformed) -> UInt64 {
        guard end - index >= 8 else { throw Malformed(reason: "fixed64 runs past the end") }
        let v = buffer.loadUnaligned(fromByteOffset: index, as: UInt64.self)
        index += 8
        return UInt64(littleEndian: v)
    }

    mutating func double() throws(Malformed) -> Double { Double(bitPattern: try fixed64()) }

    private mutating func lengthDelimited() throws(Malformed) -> Range<Int> {
        let n = try varint()
        guard n <= UInt64(end - index) else { throw Malformed(reason: "length \(n) runs past the end") }
        let r = index..<(index + Int(n))
        index += Int(n)
        return r
    }

    mutating func bytes() throws(Malformed) -> [UInt8] {
        let r = try lengthDelimited()
        return Array(UnsafeRawBufferPointer(rebasing: buffer[r]))
    }

    mutating func string() throws(Malformed) -> String {
        let r = try lengthDelimited()
        return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[r]), as: UTF8.self)
    }

    /// A reader over a nested message's bytes.
    mutating func message() throws(Malformed) -> TLVReader {
        let r = try lengthDelimited()
        return TLVReader(buffer, from: r.lowerBound, to: r.upperBound)
    }

    /// Skips a field of an unknown tag; wire types 3–7 cannot be skipped and make the payload malformed.
    mutating func skip(wire: UInt8) throws(Malformed) {
        switch wire {
        case WireType.varint.rawValue: _ = try varint()
        case WireType.fixed64.rawValue: _ = try fixed64()
        case WireType.bytes.rawValue: _ = try lengthDelimited()
        default: throw Malformed(reason: "unknown wire type \(wire)")
        }
    }
}
