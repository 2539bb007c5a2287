/// SplitMix64: a tiny, fast pseudo-random generator whose whole sequence is fixed by its seed.
///
/// Invariant: two generators built from the same seed yield identical sequences on every platform and run,
/// which is what makes mock content reproducible (same request + seed → same bytes).
struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `0..<bound` (bound > 0); modulo bias is irrelevant for text generation.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }

    /// A value in the closed range.
    mutating func within(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }

    /// True with probability `percent`/100.
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// FNV-1a 64-bit: a stable hash (unlike `Hasher`, which is randomly seeded per process).
struct StableHash: Sendable {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    init() {}

    init(_ seed: UInt64) { mix(seed) }

    mutating func mix(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01B3
        }
    }

    mutating func mix(_ text: String) {
        mix(text.utf8)
        mix(CollectionOfOne(0xFF))   // separator so ("ab","c") and ("a","bc") differ
    }

    mutating func mix(_ number: UInt64) {
        withUnsafeBytes(of: number.littleEndian) { mix($0) }
    }
}
