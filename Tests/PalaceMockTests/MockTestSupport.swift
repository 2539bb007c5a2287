#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import HTTPTypes
import Hummingbird
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

struct MockClientError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One HTTP/1.1 response as a client received it (body de-chunked).
struct MockResponse: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: ByteBuffer
}

/// A minimal HTTP/1.1 client: one connection per request (`Connection: close`), blocking socket I/O on a Dispatch
/// thread so the Swift concurrency pool stays free for the server's handlers.
struct MockClient: Sendable {
    let port: Int

    func execute(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil)
        async throws -> MockResponse
    {
        var head = "\(method.rawValue) \(uri) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for field in headers { head += "\(field.name.rawName): \(field.value)\r\n" }
        if let body { head += "Content-Length: \(body.readableBytes)\r\n" }
        head += "\r\n"
        var request = Array(head.utf8)
        if let body { request += body.readableBytesView }
        let bytes = request
        let port = port
        let raw: [UInt8] = try await withCheckedThrowingContinuation { continuation in
            // A serial queue of its own targets Dispatch's overcommitting pool: a thread per blocked request, where
            // the global concurrent queue would let two slow requests (2 cores) hold up every other test.
            DispatchQueue(label: "mock-test-client").async {
                continuation.resume(with: Result { try Self.roundTrip(port: port, request: bytes) })
            }
        }
        return try Self.parse(raw)
    }

    func execute(
        uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil,
        _ check: (MockResponse) async throws -> Void
    ) async throws {
        try await check(try await execute(uri: uri, method: method, headers: headers, body: body))
    }

    private static func roundTrip(port: Int, request: [UInt8]) throws -> [UInt8] {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw MockClientError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw MockClientError("connect to port \(port) failed: errno \(errno)") }
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, 0) }
            guard n > 0 else { throw MockClientError("send failed: errno \(errno)") }
            sent += n
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { break }   // scenario `drop`: what arrived is the answer
                throw MockClientError("recv failed: errno \(errno)")
            }
            response += buffer[0..<n]
        }
        return response
    }

    /// Status line, headers, then the body: de-chunked when chunked, else everything after the head.
    static func parse(_ raw: [UInt8]) throws -> MockResponse {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = raw.firstRange(of: separator) else { throw MockClientError("no complete response head") }
        let lines = String(decoding: raw[..<end.lowerBound], as: UTF8.self).split(separator: "\r\n")
        guard let statusLine = lines.first else { throw MockClientError("empty response") }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let code = Int(parts[1]) else { throw MockClientError("bad status line '\(statusLine)'") }
        var headers = HTTPFields()
        var chunked = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":"), let name = HTTPField.Name(String(line[..<colon])) else { continue }
            let value = String(line[line.index(after: colon)...].drop { $0 == " " })
            if name == .transferEncoding && value.lowercased().contains("chunked") { chunked = true }
            headers.append(HTTPField(name: name, value: value))
        }
        var body = Array(raw[end.upperBound...])
        if chunked { body = dechunk(body) }
        return MockResponse(status: HTTPResponse.Status(code: code), headers: headers, body: ByteBuffer(bytes: body))
    }

    /// Joins chunk payloads; a cut-off body yields what arrived.
    static func dechunk(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        let crlf: [UInt8] = [13, 10]
        while index < data.count {
            guard let lineEnd = data[index...].firstRange(of: crlf) else { break }
            let sizeText = String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            let stop = min(start + size, data.count)
            out += data[start..<stop]
            index = stop + 2
        }
        return out
    }
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
