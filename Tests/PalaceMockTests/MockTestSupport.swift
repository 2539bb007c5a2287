import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PalaceWire

@testable import PalaceMock

/// Runs `body` against an in-process mock (router-level testing, no sockets).
func withMock(
    _ configure: (inout MockOptions) -> Void = { _ in },
    _ body: @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    var options = MockOptions()
    configure(&options)
    let app = MockServer(options: options).makeApplication()
    try await app.test(.router) { client in try await body(client) }
}

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
