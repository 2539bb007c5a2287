import CCurlShim

/// Streaming gunzip for the capture copy of a gzip body that is passed to the client still compressed (the client
/// asked for gzip). The record stores decoded bytes; damaged data ends decoding and is reported, never thrown into
/// forwarding.
///
/// Not thread-safe: one decoder per body, used by one task at a time (hence `@unchecked Sendable`, to cross from
/// the request handler to the response body writer).
final class GzipDecoder: @unchecked Sendable {
    private let z: OpaquePointer?
    private(set) var error: String?

    init() {
        z = ccurl_gunzip_new()
        if z == nil { error = "cannot start gzip decoding (out of memory)" }
    }

    deinit { ccurl_gunzip_free(z) }

    /// Decodes the next compressed bytes; returns the decoded bytes (empty after an error).
    func decode(_ bytes: some Collection<UInt8>) -> [UInt8] {
        guard let z, error == nil else { return [] }
        var out: [UInt8] = []
        let rc = withUnsafeMutablePointer(to: &out) { outPtr in
            bytes.withContiguousStorageIfAvailable { buf in
                ccurl_gunzip_feed(z, buf.baseAddress, buf.count, gunzipSink, outPtr)
            } ?? Array(bytes).withUnsafeBufferPointer { buf in
                ccurl_gunzip_feed(z, buf.baseAddress, buf.count, gunzipSink, outPtr)
            }
        }
        if rc < 0 { error = "damaged gzip data: " + (ccurl_gunzip_error(z).map { String(cString: $0) } ?? "unknown") }
        return out
    }
}

private let gunzipSink: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int) -> Void = { ctx, data, n in
    guard let ctx, let data else { return }
    ctx.assumingMemoryBound(to: [UInt8].self).pointee.append(contentsOf: UnsafeBufferPointer(start: data, count: n))
}
