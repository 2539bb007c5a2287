import CPalaceMock
import HTTPTypes
import Hummingbird
import Testing

@testable import PalaceMock

/// The pieces behind the mock's debug facilities that a wire test cannot pin down exactly: the echo's SHA-256
/// (FIPS 180-4 test vectors, any split into updates), `Accept-Encoding` negotiation for `X-Mock-Gzip`, the
/// `X-Mock-*` header parsing, and the `: t=` stamp format.
@Suite struct DebugFacilityTests {
    func sha256(_ pieces: [[UInt8]]) -> String {
        var hash = palace_sha256()
        palace_sha256_init(&hash)
        for piece in pieces { piece.withUnsafeBytes { palace_sha256_update(&hash, $0.baseAddress, $0.count) } }
        var digest = [UInt8](repeating: 0, count: 32)
        palace_sha256_final(&hash, &digest)
        return DebugRoutes.hex(digest)
    }

    @Test func sha256KnownVectors() {
        #expect(sha256([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha256([Array("abc".utf8)]) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let two = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)   // 56 bytes: padding spills
        #expect(sha256([two]) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(sha256([million]) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // The same bytes split at awkward places (1, 63, 64, 65 bytes, …) give the same digest.
        var pieces: [[UInt8]] = []
        var rest = ArraySlice(million)
        for size in [1, 63, 64, 65, 127, 128, 129, 4095] + Array(repeating: 99_991, count: 11) where !rest.isEmpty {
            pieces.append(Array(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        if !rest.isEmpty { pieces.append(Array(rest)) }
        #expect(sha256(pieces) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func acceptEncodingNegotiation() {
        for yes in ["gzip", "GZIP", "deflate, gzip", "gzip;q=0.5", "x-gzip", "*", "br, *;q=0.1", " gzip ; q=1 "] {
            #expect(GzipResponse.accepts(yes), "\(yes)")
        }
        for no in [nil, "", "identity", "br", "gzip;q=0", "gzip; q=0.0, *", "*;q=0", "deflate, br"] {
            #expect(!GzipResponse.accepts(no), "\(no ?? "nil")")
        }
    }

    @Test func mockHeadersParseInOnePass() throws {
        var options = MockOptions()
        options.headDelayMs = 1500
        let plain = try RequestSettings.resolve(options: options, headers: [.contentType: "application/json"])
        #expect(!plain.gzip && !plain.timestamps && plain.headDelayMs == 1500 && plain.scenarios.isEmpty)
        var fields = HTTPFields()
        fields[HTTPField.Name("X-Mock-Gzip")!] = "1"
        fields[HTTPField.Name("x-mock-timestamps")!] = "true"
        fields[HTTPField.Name("X-Mock-Head-Delay-Ms")!] = " 250 "
        fields.append(HTTPField(name: HTTPField.Name("X-Mock-Scenario")!, value: "slow-head"))
        fields.append(HTTPField(name: HTTPField.Name("X-Mock-Scenario")!, value: "length"))
        fields[HTTPField.Name("X-Mock-Unknown")!] = "ignored"
        let set = try RequestSettings.resolve(options: options, headers: fields)
        #expect(set.gzip && set.timestamps && set.headDelayMs == 250 && set.has(.slowHead) && set.has(.length))
        #expect(throws: APIError.self) {
            try RequestSettings.resolve(options: options, headers: [HTTPField.Name("X-Mock-Timestamps")!: "sometimes"])
        }
    }

    @Test func stampIsAnSSECommentWithMicroseconds() {
        let stamped = SSEOutput.stamped(ByteBuffer(string: "data: {}\n\n"))
        let text = String(buffer: stamped)
        #expect(text.hasPrefix(": t=") && text.hasSuffix("\ndata: {}\n\n"))
        let stamp = text.dropFirst(4).prefix { $0 != "\n" }
        let parts = stamp.split(separator: ".")
        #expect(parts.count == 2 && parts[1].count == 6 && Int(parts[0]) != nil && Int(parts[1]) != nil)
    }
}

/// Deadline-based pacing: event k is handed to the writer at start + first-token delay + k × chunk delay, so the
/// time a write takes is absorbed instead of added (sleeping a chunk delay after each write drifts by the write
/// time per event: here 5 ms per 10 ms event, 95 ms over 20 events).
@Suite struct PacingTests {
    final class Times: @unchecked Sendable {
        var values: [ContinuousClock.Instant] = []
    }

    struct SlowWriter: ResponseBodyWriter {
        let times: Times
        mutating func write(_ buffer: ByteBuffer) async throws {
            times.values.append(.now)
            try await Task.sleep(for: .milliseconds(5))
        }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    @Test func pacingAbsorbsWriteTime() async throws {
        let settings = try RequestSettings.resolve(options: MockOptions(), headers: [RequestSettings.chunkDelayHeader: "10"])
        var spans: [Duration] = []
        // A loaded machine can stall a run; one clean run out of three shows the schedule.
        for _ in 0..<3 {
            let times = Times()
            var writer: any ResponseBodyWriter = SlowWriter(times: times)
            var output = SSEOutput(settings: settings, seed: 1, dropAfter: nil)
            let started = ContinuousClock.now
            for _ in 0..<20 { try await output.send("{}", to: &writer) }
            #expect(times.values.count == 20)
            // Never early: event k not before start + k × 10 ms.
            for (k, at) in times.values.enumerated() { #expect(at - started >= .milliseconds(10 * k) - .milliseconds(1)) }
            let span = times.values[19] - times.values[0]
            spans.append(span)
            if span < .milliseconds(190 + 45) { return }   // sleeping after each write: >= 19 × 15 = 285 ms
        }
        Issue.record("20 events 10 ms apart with 5 ms writes spanned \(spans) (deadline pacing: ~190 ms)")
    }
}
