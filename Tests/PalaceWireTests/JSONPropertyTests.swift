import Testing
@testable import PalaceWire

/// Law: for any value, parse(serialize(v)) == v, compact and pretty, and the compact text is stable.
@Suite struct JSONPropertyTests {
    static let numberTexts = ["0", "-0", "1", "-17", "3.14159", "1e10", "2E-3", "-0.0e+0", "12345678901234567890", "1.50"]

    static func randomString(using rng: inout SplitMix64) -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...12, using: &rng) {
            let pick = Int.random(in: 0..<6, using: &rng)
            let value: UInt32 = switch pick {
            case 0: UInt32.random(in: 0...0x1F, using: &rng)           // control characters
            case 1: [0x22, 0x5C, 0x2F, 0x7F].randomElement(using: &rng)!  // " \ / DEL
            case 2: UInt32.random(in: 0x20...0x7E, using: &rng)
            case 3: UInt32.random(in: 0x4E00...0x9FFF, using: &rng)      // CJK
            case 4: UInt32.random(in: 0x1F300...0x1FAFF, using: &rng)    // emoji (4-byte UTF-8)
            default: [0x2028, 0x2029, 0xFEFF, 0xFFFD, 0xE9].randomElement(using: &rng)!
            }
            scalars.append(Unicode.Scalar(value) ?? "?")
        }
        return String(scalars)
    }

    static func randomValue(depth: Int, using rng: inout SplitMix64) -> JSONValue {
        switch Int.random(in: 0..<(depth > 4 ? 5 : 7), using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .number(numberTexts.randomElement(using: &rng)!)
        case 3, 4: return .string(randomString(using: &rng))
        case 5: return .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(depth: depth + 1, using: &rng) })
        default:
            var o = JSONObject()
            for _ in 0..<Int.random(in: 0...16, using: &rng) {
                o[randomString(using: &rng)] = randomValue(depth: depth + 1, using: &rng)
            }
            return .object(o)
        }
    }

    @Test(arguments: 0..<300)
    func serializeThenParseIsIdentity(seed: Int) throws {
        var rng = SplitMix64(seed: UInt64(seed) &+ 99)
        let value = Self.randomValue(depth: 0, using: &rng)
        let compact = value.serialized()
        #expect(try JSONValue.parse(compact) == value)
        #expect(try JSONValue.parse(value.serialized(pretty: true)) == value)
        #expect(try JSONValue.parse(compact).serialized() == compact)
        #expect(value.serializedBytes() == Array(compact.utf8))
        #expect(!compact.contains("\n"))   // compact JSON is one SSE data line
    }
}
