#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1

/// The NIO upstream client's HTTP/1.1 response decoder (in place of NIOHTTP1's `HTTPResponseDecoder`): the same
/// parts for the same bytes — heads (1xx dropped), body, end — except that a socket read's body bytes go on as ONE
/// part. NIOHTTP1 fires a part per chunk of a chunked body: a stream's read of 50 SSE events is 50 chunks, each a
/// slice, a boxed `NIOAny` and a pipeline hop, ~20 µs per 50-chunk stream (perf, -c16); here it is one part (a
/// slice of the read when one chunk's data, else the chunks' data copied into one buffer). Nothing waits for more
/// bytes: what a read holds of a chunk goes on at once.
///
/// Parsing: status line `HTTP/1.x code [reason]` (the reason is dropped, as NIOHTTP1 does), header fields (names
/// are tokens, values without control bytes but tab, leading blanks dropped), lines ending in CRLF or a bare LF (as curl takes
/// them). Framing (RFC 9112 6.3): no body for answers to HEAD, 1xx, 204 and 304; `Transfer-Encoding` ending in
/// `chunked`: chunked (sizes in hex, extensions ignored, trailers read and dropped); other transfer codings: until
/// the connection closes; one valid `Content-Length`: that many bytes; else until the connection closes.
/// Errors (`HTTPParserError`, as NIOHTTP1 reports them): an answer without a request, malformed status line or
/// version, bad header bytes, a head over 80 KiB, a bad or duplicate `Content-Length`, both `Content-Length` and `Transfer-Encoding`, a bad
/// chunk size or chunk end, the connection closing inside a message. After an error nothing more is parsed.
final class UpstreamResponseDecoder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    /// NIOHTTP1's default limit of a head's size.
    static let maxHeadBytes = 80 * 1024

    private enum State {
        case head
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case length(remaining: Int)
        case untilClose
        case failed
    }

    private var state = State.head
    /// Bytes of a line (or head) not complete at the end of the last read.
    private var carry: ByteBuffer?
    /// Methods of the requests sent whose final response has not begun (an answer to HEAD has no body).
    private var methods = CircularBuffer<HTTPMethod>(initialCapacity: 2)

    init() {}

    // MARK: outbound: the requests' methods

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .head(let head) = unwrapOutboundIn(data) { methods.append(head.method) }
        context.write(data, promise: promise)
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if case .failed = state { return }
        if var held = carry {
            carry = nil
            held.writeBuffer(&input)
            input = held
        }
        let whole = input   // body ranges are sliced from here (the reader index of `input` moves on)
        var body = BodyRun()
        do {
            try decode(&input, whole: whole, body: &body, context: context)
        } catch {
            body.emit(from: whole, context: context, self)
            state = .failed
            context.fireErrorCaught(error)
            return
        }
        body.emit(from: whole, context: context, self)
        if input.readableBytes > 0 { carry = input.slice() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .untilClose:
            state = .head
            context.fireChannelRead(wrapInboundOut(.end(nil)))
        case .head where (carry?.readableBytes ?? 0) == 0, .failed:
            break
        default:
            state = .failed
            context.fireErrorCaught(HTTPParserError.invalidEOFState)
        }
        carry = nil
        context.fireChannelInactive()
    }

    /// The body bytes of one read: one range is passed on as a slice of the read, several are copied into one
    /// buffer. Ranges are reader-index offsets into the read's buffer.
    private struct BodyRun {
        var first: Range<Int>?
        var joined: ByteBuffer?

        mutating func add(_ range: Range<Int>, of input: ByteBuffer) {
            guard !range.isEmpty else { return }
            if joined != nil {
                joined!.writeImmutableBuffer(input.getSlice(at: range.lowerBound, length: range.count)!)
            } else if let f = first {
                if f.upperBound == range.lowerBound { first = f.lowerBound..<range.upperBound; return }
                var out = ByteBuffer()
                out.reserveCapacity(f.count + range.count + max(0, input.writerIndex - range.upperBound))
                out.writeImmutableBuffer(input.getSlice(at: f.lowerBound, length: f.count)!)
                out.writeImmutableBuffer(input.getSlice(at: range.lowerBound, length: range.count)!)
                joined = out
                first = nil
            } else {
                first = range
            }
        }

        /// Fires what was gathered as one body part.
        mutating func emit(from input: ByteBuffer, context: ChannelHandlerContext, _ decoder: UpstreamResponseDecoder) {
            if let joined {
                context.fireChannelRead(decoder.wrapInboundOut(.body(joined)))
            } else if let f = first, let slice = input.getSlice(at: f.lowerBound, length: f.count) {
                context.fireChannelRead(decoder.wrapInboundOut(.body(slice)))
            }
            first = nil
            joined = nil
        }
    }

    /// Parses what `input` holds; on return its readable bytes are an incomplete line or head (carried).
    private func decode(_ input: inout ByteBuffer, whole: ByteBuffer, body: inout BodyRun,
                        context: ChannelHandlerContext) throws {
        while input.readableBytes > 0 {
            switch state {
            case .head:
                // Blank lines before a status line are skipped (as llhttp does).
                while let c = input.getInteger(at: input.readerIndex, as: UInt8.self), c == 0x0D || c == 0x0A {
                    input.moveReaderIndex(forwardBy: 1)
                }
                guard input.readableBytes > 0 else { return }
                guard let headEnd = Self.headEnd(input) else {
                    if input.readableBytes > Self.maxHeadBytes { throw HTTPParserError.headerOverflow }
                    return
                }
                let bytes = input.readSlice(length: headEnd)!
                guard let (head, framing) = try parseHead(bytes) else { continue }   // 1xx: dropped
                context.fireChannelRead(wrapInboundOut(.head(head)))
                switch framing {
                case .none:
                    context.fireChannelRead(wrapInboundOut(.end(nil)))
                case .switched:
                    context.fireChannelRead(wrapInboundOut(.end(nil)))
                    state = .failed
                    input.moveReaderIndex(to: input.writerIndex)
                case .chunked:
                    state = .chunkSize
                case .length(let n):
                    if n == 0 {
                        context.fireChannelRead(wrapInboundOut(.end(nil)))
                    } else {
                        state = .length(remaining: n)
                    }
                case .untilClose:
                    state = .untilClose
                }
            case .chunkSize:
                guard let line = Self.line(input) else {
                    if input.readableBytes > Self.maxHeadBytes { throw HTTPParserError.invalidChunkSize }
                    return
                }
                let size = try Self.chunkSize(input, line.content)
                input.moveReaderIndex(to: line.next)
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let n = min(remaining, input.readableBytes)
                body.add(input.readerIndex..<(input.readerIndex + n), of: whole)
                input.moveReaderIndex(forwardBy: n)
                state = n == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - n)
            case .chunkDataEnd:
                guard let line = Self.line(input) else {
                    if input.readableBytes >= 2 { throw HTTPParserError.invalidChunkSize }
                    return
                }
                guard line.content.isEmpty else { throw HTTPParserError.invalidChunkSize }
                input.moveReaderIndex(to: line.next)
                state = .chunkSize
            case .trailers:
                guard let line = Self.line(input) else {
                    if input.readableBytes > Self.maxHeadBytes { throw HTTPParserError.headerOverflow }
                    return
                }
                input.moveReaderIndex(to: line.next)
                if line.content.isEmpty {
                    state = .head
                    body.emit(from: whole, context: context, self)
                    context.fireChannelRead(wrapInboundOut(.end(nil)))
                }
            case .length(let remaining):
                let n = min(remaining, input.readableBytes)
                body.add(input.readerIndex..<(input.readerIndex + n), of: whole)
                input.moveReaderIndex(forwardBy: n)
                if n == remaining {
                    state = .head
                    body.emit(from: whole, context: context, self)
                    context.fireChannelRead(wrapInboundOut(.end(nil)))
                } else {
                    state = .length(remaining: remaining - n)
                }
            case .untilClose:
                body.add(input.readerIndex..<input.writerIndex, of: whole)
                input.moveReaderIndex(to: input.writerIndex)
            case .failed:
                input.moveReaderIndex(to: input.writerIndex)
            }
        }
    }

    // MARK: lines

    /// The first line of `input`'s readable bytes: its content (without CRLF or LF, reader-index offsets) and where
    /// the next line starts; nil when no line end is there yet.
    private static func line(_ input: ByteBuffer) -> (content: Range<Int>, next: Int)? {
        let start = input.readerIndex
        let found: Int? = input.withUnsafeReadableBytes { raw in
            guard let base = raw.baseAddress else { return nil }
            guard let p = memchr(base, 0x0A, raw.count) else { return nil }
            return base.distance(to: UnsafeRawPointer(p))
        }
        guard let lf = found else { return nil }
        var end = start + lf
        if lf > 0, input.getInteger(at: end - 1, as: UInt8.self) == 0x0D { end -= 1 }
        return (start..<end, start + lf + 1)
    }

    /// Length of the head at the start of `input` (up to and including the blank line), or nil if incomplete.
    private static func headEnd(_ input: ByteBuffer) -> Int? {
        input.withUnsafeReadableBytes { raw -> Int? in
            guard let base = raw.baseAddress else { return nil }
            var from = 0
            while from < raw.count, let p = memchr(base + from, 0x0A, raw.count - from) {
                let lf = base.distance(to: UnsafeRawPointer(p))
                // A line end followed by another (CRLF or LF) ends the head.
                if lf + 1 < raw.count, raw[lf + 1] == 0x0A { return lf + 2 }
                if lf + 2 < raw.count, raw[lf + 1] == 0x0D, raw[lf + 2] == 0x0A { return lf + 3 }
                from = lf + 1
            }
            return nil
        }
    }

    private static func chunkSize(_ input: ByteBuffer, _ line: Range<Int>) throws -> Int {
        try input.withUnsafeReadableBytes { raw -> Int in
            let offset = line.lowerBound - input.readerIndex
            var i = offset
            let end = offset + line.count
            var size = 0
            var digits = 0
            while i < end {
                let c = raw[i]
                let v: Int
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): v = Int(c &- UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): v = Int(c &- UInt8(ascii: "a")) + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): v = Int(c &- UInt8(ascii: "A")) + 10
                default: v = -1
                }
                if v < 0 { break }
                digits += 1
                guard digits <= 15 else { throw HTTPParserError.invalidChunkSize }
                size = size << 4 | v
                i += 1
            }
            guard digits > 0 else { throw HTTPParserError.invalidChunkSize }
            while i < end, raw[i] == 0x20 || raw[i] == 0x09 { i += 1 }
            guard i == end || raw[i] == UInt8(ascii: ";") else { throw HTTPParserError.invalidChunkSize }
            return size
        }
    }

    // MARK: the head

    private enum Framing {
        case none
        /// 101: the connection is no longer HTTP; nothing after the head is parsed (as NIOHTTP1 stops).
        case switched
        case chunked
        case length(Int)
        case untilClose
    }

    /// The head in `bytes` (status line, fields, blank line) and its body's framing; nil for an informational
    /// answer (dropped, as NIOHTTP1's `.drop` strategy does; 101 excepted).
    private func parseHead(_ bytes: ByteBuffer) throws -> (HTTPResponseHead, Framing)? {
        var fields: [(String, String)] = []
        var lengths = 0
        var length: Int?
        var transferEncoding = false
        var chunked = false
        // One pass over the head's bytes (status line, fields, the blank line that ends it).
        let (major, minor, code) = try bytes.withUnsafeReadableBytes { raw throws -> (Int, Int, Int) in
            let b = raw.bindMemory(to: UInt8.self)
            let n = b.count
            /// The line from `from`: where its content ends (before CRLF or LF) and where the next line starts.
            func line(_ from: Int) -> (end: Int, next: Int)? {
                guard from < n, let base = b.baseAddress, let p = memchr(base + from, 0x0A, n - from) else { return nil }
                let lf = base.distance(to: p.assumingMemoryBound(to: UInt8.self))
                return (lf > from && b[lf - 1] == 0x0D ? lf - 1 : lf, lf + 1)
            }
            guard let status = line(0), status.end > 0 else { throw HTTPParserError.invalidInternalState }
            // Status line: HTTP/1.x SP code [SP reason]
            guard status.end >= 12, b[0] == UInt8(ascii: "H"), b[1] == UInt8(ascii: "T"), b[2] == UInt8(ascii: "T"),
                  b[3] == UInt8(ascii: "P"), b[4] == UInt8(ascii: "/"), b[6] == UInt8(ascii: ".")
            else { throw HTTPParserError.invalidConstant }
            let major = Int(b[5]) - 48, minor = Int(b[7]) - 48
            guard (0...9).contains(major), (0...9).contains(minor), major == 1 else { throw HTTPParserError.invalidVersion }
            guard b[8] == 0x20 else { throw HTTPParserError.invalidStatus }
            var code = 0
            for i in 9..<12 {
                let d = Int(b[i]) - 48
                guard (0...9).contains(d) else { throw HTTPParserError.invalidStatus }
                code = code * 10 + d
            }
            guard status.end == 12 || b[12] == 0x20, code >= 100 else { throw HTTPParserError.invalidStatus }

            var start = status.next
            while let l = line(start), l.end > start {
                var colon = start
                while colon < l.end, b[colon] != UInt8(ascii: ":") {
                    guard Self.isToken(b[colon]) else { throw HTTPParserError.invalidHeaderToken }
                    colon += 1
                }
                guard colon < l.end, colon > start else { throw HTTPParserError.invalidHeaderToken }
                // Leading blanks are dropped, trailing ones kept (as llhttp does).
                var valueStart = colon + 1
                while valueStart < l.end, b[valueStart] == 0x20 || b[valueStart] == 0x09 { valueStart += 1 }
                for j in valueStart..<l.end {
                    let c = b[j]
                    guard c >= 0x20 && c != 0x7F || c == 0x09 else { throw HTTPParserError.invalidHeaderToken }
                }
                let name = UnsafeBufferPointer(rebasing: b[start..<colon])
                let value = UnsafeBufferPointer(rebasing: b[valueStart..<l.end])
                if Self.equalsLowercased(name, "content-length") {
                    lengths += 1
                    guard lengths == 1 else { throw HTTPParserError.unexpectedContentLength }
                    var digitsEnd = value.count
                    while digitsEnd > 0, value[digitsEnd - 1] == 0x20 || value[digitsEnd - 1] == 0x09 { digitsEnd -= 1 }
                    guard digitsEnd > 0, digitsEnd <= 18 else { throw HTTPParserError.invalidContentLength }
                    var n = 0
                    for k in 0..<digitsEnd {
                        let d = value[k] &- 48
                        guard d < 10 else { throw HTTPParserError.invalidContentLength }
                        n = n * 10 + Int(d)
                    }
                    length = n
                } else if Self.equalsLowercased(name, "transfer-encoding") {
                    transferEncoding = true
                    // The last coding (comma-separated, empty items skipped, blanks trimmed) says whether it is chunked.
                    var end = value.count
                    while end > 0, value[end - 1] == UInt8(ascii: ",") { end -= 1 }
                    if end > 0 {
                        var from = end
                        while from > 0, value[from - 1] != UInt8(ascii: ",") { from -= 1 }
                        var lo = from, hi = end
                        while lo < hi, value[lo] == 0x20 || value[lo] == 0x09 { lo += 1 }
                        while hi > lo, value[hi - 1] == 0x20 || value[hi - 1] == 0x09 { hi -= 1 }
                        chunked = Self.equalsLowercased(UnsafeBufferPointer(rebasing: value[lo..<hi]), "chunked")
                    }
                }
                fields.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
                start = l.next
            }
            return (major, minor, code)
        }
        guard !methods.isEmpty else { throw NIOHTTPDecoderError.unsolicitedResponse }
        if (100..<200).contains(code) && code != 101 { return nil }
        let method = methods.removeFirst()
        let head = HTTPResponseHead(version: HTTPVersion(major: major, minor: minor), status: HTTPResponseStatus(statusCode: code),
                                    headers: HTTPHeaders(fields))
        if code == 101 { return (head, .switched) }
        if method == .HEAD || method == .CONNECT || code == 204 || code == 304 { return (head, .none) }
        if transferEncoding {
            guard length == nil else { throw HTTPParserError.unexpectedContentLength }
            return (head, chunked ? .chunked : .untilClose)
        }
        if let length { return (head, .length(length)) }
        return (head, .untilClose)
    }

    private static func isToken(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }

    private static func equalsLowercased(_ s: UnsafeBufferPointer<UInt8>, _ lower: StaticString) -> Bool {
        lower.withUTF8Buffer { UpstreamHead.equalsLowercased(s, $0) }
    }
}
