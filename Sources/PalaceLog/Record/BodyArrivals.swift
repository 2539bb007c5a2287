/// When the pieces of a response body arrived (FORMAT.md 1.2, chunk field 5 / end field 21 `arrivals`): one entry per
/// read of the upstream body — its length and its arrival time in microseconds since the request was sent upstream
/// (the zero of `ExchangeTimings`) — packed as varint pairs `Δt, length`, the first `Δt` counted from that zero.
///
/// Each entry covers the body bytes that follow the previous one, starting at the record's body offset, so a reader
/// places every SSE event at the arrival of the read that completed it. Appending costs a few bytes in one buffer
/// (no allocation once its capacity is reserved); the packed bytes are what the log stores, unchanged.
public struct BodyArrivals: Sendable, Hashable {
    /// The stored form: varint pairs (Δt µs, byte length), in arrival order.
    public private(set) var packed: [UInt8]
    /// Arrival time of the last appended entry, for the next delta (not part of the value).
    private var lastMicros: Int64 = 0

    public init(capacity: Int = 0) {
        packed = []
        if capacity > 0 { packed.reserveCapacity(capacity) }
    }

    /// Entries read back from a record; appending to it continues after its last entry.
    public init(packed: [UInt8]) {
        self.packed = packed
        lastMicros = Self.decode(packed, from: 0).last?.micros ?? 0
    }

    public var isEmpty: Bool { packed.isEmpty }

    /// Notes `length` body bytes that arrived `micros` after the request was sent. Empty reads are not noted; a time
    /// before the previous entry's (which a monotonic clock never gives) is taken as the previous one.
    public mutating func append(length: Int, micros: Int64) {
        guard length > 0 else { return }
        let t = max(micros, lastMicros)
        TLVWriter.appendVarint(UInt64(t - lastMicros), to: &packed)
        TLVWriter.appendVarint(UInt64(length), to: &packed)
        lastMicros = t
    }

    /// The entries with their body offsets, the first one starting at `offset` (the record's body offset).
    /// Decoding stops at a malformed or truncated pair (what came before it is kept).
    public func entries(from offset: UInt64) -> [BodyArrival] { Self.decode(packed, from: offset) }

    /// The entries of several records (each at its record's body offset), in body order.
    public static func join(_ pieces: [(offset: UInt64, arrivals: BodyArrivals)]) -> [BodyArrival] {
        pieces.filter { !$0.arrivals.isEmpty }.sorted { $0.offset < $1.offset }.flatMap { $0.arrivals.entries(from: $0.offset) }
    }

    public static func == (a: BodyArrivals, b: BodyArrivals) -> Bool { a.packed == b.packed }
    public func hash(into hasher: inout Hasher) { hasher.combine(packed) }

    private static func decode(_ packed: [UInt8], from offset: UInt64) -> [BodyArrival] {
        var out: [BodyArrival] = []
        packed.withUnsafeBytes { raw in
            var reader = TLVReader(raw)
            var t: Int64 = 0, at = offset
            while !reader.isAtEnd {
                guard let dt = try? reader.varint(), let n = try? reader.varint(), dt <= UInt64(Int64.max - t), n > 0
                else { break }
                t += Int64(dt)
                out.append(BodyArrival(offset: at, length: n, micros: t))
                at &+= n
            }
        }
        return out
    }
}

/// One read of a response body: `length` bytes at `offset` arrived `micros` after the request was sent upstream.
public struct BodyArrival: Sendable, Hashable {
    public var offset: UInt64
    public var length: UInt64
    public var micros: Int64
    public init(offset: UInt64, length: UInt64, micros: Int64) { self.offset = offset; self.length = length; self.micros = micros }
    /// One past the last byte of this read.
    public var endOffset: UInt64 { offset &+ length }
}
