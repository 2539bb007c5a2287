#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ids and clocks of served objects. Ids are random (never part of the deterministic content).
///
/// One draw from the system generator (a `getrandom` syscall) seeds a SplitMix64 per id: ids stay
/// unpredictable enough for a mock while costing one syscall instead of one per character.
enum Identifiers {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
    private static let hex = Array("0123456789abcdef".utf8)

    private static func generator() -> SeededRandom {
        var system = SystemRandomNumberGenerator()
        return SeededRandom(seed: system.next())
    }

    static func random(_ count: Int) -> String {
        var generator = generator()
        return String(unsafeUninitializedCapacity: count) { buffer in
            for index in 0..<count { buffer[index] = alphabet[Int(generator.next() % 36)] }
            return count
        }
    }

    static func chatCompletion() -> String { "chatcmpl-" + random(24) }
    static func cache() -> String { "cache-" + random(20) }
    static func file() -> String { "d" + random(19) }

    /// A version-4 UUID, as in `Msh-Request-Id`.
    static func uuid() -> String {
        var generator = generator()
        let high = generator.next()
        let low = generator.next()
        var bytes = (0..<16).map { UInt8(truncatingIfNeeded: ($0 < 8 ? high : low) >> (UInt64($0 % 8) * 8)) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if [4, 6, 8, 10].contains(index) { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Wall-clock time (Unix epoch); `ContinuousClock` is used for durations.
enum WallClock {
    static func nowSeconds() -> Int {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int(spec.tv_sec)
    }

    /// The Unix time as `seconds.micro` (6 decimals), e.g. `1764446400.123456`.
    static func nowMicrosecondsText() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let micros = String(Int(spec.tv_nsec) / 1000)
        return String(Int(spec.tv_sec)) + "." + String(repeating: "0", count: 6 - micros.utf8.count) + micros
    }

    static func nowMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
