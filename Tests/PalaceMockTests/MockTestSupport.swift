import HTTPTypes
import Hummingbird
import TestHTTPClient
import PalaceWire

@testable import PalaceMock

/// Runs `body` against a real mock server on a free port of 127.0.0.1 (real sockets; no HummingbirdTesting, whose
/// HTTP client would pull TLS into the test build).
func withMock(
    _ configure: (inout MockOptions) -> Void = { _ in },
    _ body: @Sendable (MockClient) async throws -> Void
) async throws {
    var options = MockOptions()
    configure(&options)
    options.host = "127.0.0.1"
    options.port = 0
    let server = MockServer(options: options)
    let (ports, portSink) = AsyncStream<Int>.makeStream()
    let serving = Task { try await server.run(handleSignals: false) { port in portSink.yield(port) } }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else {
        serving.cancel()
        throw MockClientError("the mock server did not start")
    }
    do {
        try await body(MockClient(port: port))
    } catch {
        serving.cancel()
        _ = await serving.result
        throw error
    }
    serving.cancel()
    _ = await serving.result
}

typealias MockClient = TestHTTPClient
typealias MockResponse = TestHTTPResponse
typealias MockClientError = TestHTTPClientError

func chatBody(_ extra: String = "", content: String = "你好, moon") -> ByteBuffer {
    ByteBuffer(string: "{\"model\":\"kimi-k2-turbo-preview\",\"messages\":[{\"role\":\"user\",\"content\":\(JSONText.quoted(content))}]\(extra)}")
}

func headers(_ pairs: [(String, String)]) -> HTTPFields {
    var fields = HTTPFields()
    for (name, value) in pairs { fields[HTTPField.Name(name)!] = value }
    return fields
}

/// The `data:` payloads of an SSE body, in order (test-side parser: split on blank lines).
func sseData(_ body: ByteBuffer) -> [String] {
    let text = String(buffer: body)
    return text.components(separatedBy: "\n\n").compactMap { event in
        event.hasPrefix("data: ") ? String(event.dropFirst(6)) : nil
    }
}

extension String {
    func components(separatedBy separator: String) -> [String] {
        var result: [String] = []
        var rest = Substring(self)
        while let range = rest.firstRange(of: separator) {
            result.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        result.append(String(rest))
        return result
    }
}
