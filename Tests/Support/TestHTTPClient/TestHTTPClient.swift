#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import HTTPTypes
import Hummingbird

/// The HTTP/1.1 client the server tests (PalaceMockTests, PalaceWebTests) talk to their real server with, over a
/// real 127.0.0.1 socket — instead of HummingbirdTesting, whose client would pull TLS into the test build.

public struct TestHTTPClientError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One HTTP/1.1 response as the client received it (body de-chunked).
public struct TestHTTPResponse: Sendable {
    public var status: HTTPResponse.Status
    public var headers: HTTPFields
    public var body: ByteBuffer
    public var text: String { String(buffer: body) }
}

/// One connection per request (`Connection: close`), blocking socket I/O on a Dispatch thread of its own so Swift's
/// cooperative pool stays free for the server's handlers.
public struct TestHTTPClient: Sendable {
    public let port: Int

    public init(port: Int) { self.port = port }

    public func execute<T>(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil,
                           _ check: (TestHTTPResponse) async throws -> T) async throws -> T {
        try await check(try await execute(uri: uri, method: method, headers: headers, body: body))
    }

    public func execute(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil)
        async throws -> TestHTTPResponse
    {
        var head = "\(method.rawValue) \(uri) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for field in headers { head += "\(field.name.rawName): \(field.value)\r\n" }
        if let body { head += "Content-Length: \(body.readableBytes)\r\n" }
        head += "\r\n"
        var request = Array(head.utf8)
        if let body { request += body.readableBytesView }
        let bytes = request, port = port
        let raw: [UInt8] = try await withCheckedThrowingContinuation { continuation in
            // A serial queue of its own targets Dispatch's overcommitting pool: a thread per blocked request, where
            // the global concurrent queue would let two slow requests (2 cores) hold up every other test.
            DispatchQueue(label: "test-http-client").async {
                continuation.resume(with: Result { try Self.roundTrip(port: port, request: bytes) })
            }
        }
        return try Self.parse(raw)
    }

    private static func roundTrip(port: Int, request: [UInt8]) throws -> [UInt8] {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw TestHTTPClientError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)   // a hung server fails the test instead of hanging it
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestHTTPClientError("connect to port \(port) failed: errno \(errno)") }
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, 0) }
            guard n > 0 else { throw TestHTTPClientError("send failed: errno \(errno)") }
            sent += n
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { break }   // a server that drops the connection (mock scenario `drop`): what arrived is the answer
                throw TestHTTPClientError("recv failed: errno \(errno)")
            }
            response += buffer[0..<n]
        }
        return response
    }

    /// Status line, headers, then the body: de-chunked when chunked, else everything after the head.
    public static func parse(_ raw: [UInt8]) throws -> TestHTTPResponse {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = raw.firstRange(of: separator) else { throw TestHTTPClientError("no complete response head") }
        let lines = String(decoding: raw[..<end.lowerBound], as: UTF8.self).split(separator: "\r\n")
        guard let statusLine = lines.first else { throw TestHTTPClientError("empty response") }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let code = Int(parts[1]) else { throw TestHTTPClientError("bad status line '\(statusLine)'") }
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
        return TestHTTPResponse(status: HTTPResponse.Status(code: code), headers: headers, body: ByteBuffer(bytes: body))
    }

    /// Joins chunk payloads; a cut-off body yields what arrived.
    public static func dechunk(_ data: [UInt8]) -> [UInt8] {
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
