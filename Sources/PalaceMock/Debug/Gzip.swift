import CPalaceMock
import HTTPTypes
import Hummingbird

/// `X-Mock-Gzip: 1`: the response body is sent `Content-Encoding: gzip` when the request's `Accept-Encoding`
/// allows gzip, as a real server with compression on does (`Vary: Accept-Encoding` either way). Every write is
/// compressed and sync-flushed on its own, so a stream's events still reach the client one by one.
enum GzipResponse {
    static func apply(to response: inout Response, acceptEncoding: String?) {
        response.headers[.vary] = "Accept-Encoding"
        guard accepts(acceptEncoding), response.status != .noContent, response.status != .notModified else { return }
        let body = response.body
        response.headers[.contentEncoding] = "gzip"
        response.body = ResponseBody { writer in
            try await body.write(GzipBodyWriter(inner: writer, deflater: try Deflater()))
        }
    }

    /// RFC 9110 §12.5.3: gzip (or its alias x-gzip) listed with q > 0, or `*` with q > 0 when gzip is not listed.
    static func accepts(_ header: String?) -> Bool {
        guard let header else { return false }
        var star: Bool?
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";")
            guard let first = parts.first else { continue }
            let coding = first.trimmingSpaces().lowercased()
            var q = 1.0
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingSpaces().lowercased() == "q" {
                    q = Double(pair[1].trimmingSpaces()) ?? 0
                }
            }
            if coding == "gzip" || coding == "x-gzip" { return q > 0 }
            if coding == "*" { star = q > 0 }
        }
        return star ?? false
    }
}

/// One gzip stream (zlib deflate, gzip wrapper); freed with the value.
final class Deflater {
    private let stream: OpaquePointer

    init() throws {
        guard let stream = palace_gzip_new(6) else { throw APIError(.internalServerError, "server_error", "mock: zlib failed to start") }
        self.stream = stream
    }

    deinit { palace_gzip_free(stream) }

    /// Compresses `input`; `finish` ends the stream (trailer), else the output ends with a sync flush.
    func feed(_ input: ByteBuffer, finish: Bool) throws -> ByteBuffer {
        var output = ByteBuffer()
        let rc = input.withUnsafeReadableBytes { raw in
            withUnsafeMutablePointer(to: &output) { sink in
                palace_gzip_feed(stream, raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count, finish ? 1 : 0, {
                    context, bytes, count in
                    context?.assumingMemoryBound(to: ByteBuffer.self).pointee
                        .writeBytes(UnsafeRawBufferPointer(start: bytes, count: count))
                }, sink)
            }
        }
        guard rc == 0 else { throw APIError(.internalServerError, "server_error", "mock: gzip compression failed") }
        return output
    }
}

struct GzipBodyWriter: ResponseBodyWriter {
    var inner: any ResponseBodyWriter
    let deflater: Deflater

    mutating func write(_ buffer: ByteBuffer) async throws {
        let compressed = try deflater.feed(buffer, finish: false)
        if compressed.readableBytes > 0 { try await inner.write(compressed) }
    }

    /// A batch is compressed as one piece (one sync flush), as the server would send it in one write.
    mutating func write(contentsOf buffers: some Sequence<ByteBuffer>) async throws {
        var joined = ByteBuffer()
        for var buffer in buffers { joined.writeBuffer(&buffer) }
        try await write(joined)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        var inner = self.inner
        let tail = try deflater.feed(ByteBuffer(), finish: true)
        if tail.readableBytes > 0 { try await inner.write(tail) }
        try await inner.finish(trailingHeaders)
    }
}
