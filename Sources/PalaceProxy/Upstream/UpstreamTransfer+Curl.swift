import CCurlShim
import Hummingbird
import PalaceLog

extension UpstreamTransfer {
    /// Sets every curl option for `request`. The transfer object is the callbacks' userdata (kept alive by the loop's
    /// table while the handle is added).
    func configure(_ request: UpstreamRequest) throws(UpstreamFailure) {
        let me = Unmanaged.passUnretained(self).toOpaque()
        var ok = true
        func set(_ rc: CURLcode) { if rc != CURLE_OK { ok = false } }
        set(ccurl_easy_setopt_string(easy, CURLOPT_URL, request.url))
        set(ccurl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        set(ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        set(ccurl_easy_setopt_long(easy, CURLOPT_PATH_AS_IS, 1))
        set(ccurl_easy_setopt_long(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1))
        set(ccurl_easy_setopt_long(easy, CURLOPT_TCP_NODELAY, 1))
        // Idle timeout: abort below 1 byte/s for N seconds. No total cap (long generations are legitimate).
        let idle = max(1, request.idleTimeoutSeconds)
        set(ccurl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, 1))
        set(ccurl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, idle))
        set(ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT, idle))
        if request.decodeCompression {
            set(ccurl_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, ""))
        }
        set(ccurl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, upstreamWriteCallback))
        set(ccurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, me))
        set(ccurl_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, upstreamHeaderCallback))
        set(ccurl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, me))

        let method = request.method.uppercased()
        var extra: [String] = ["Expect:"]   // no 100-continue round trip for large bodies
        if let length = request.bodyLength {
            set(ccurl_easy_setopt_long(easy, CURLOPT_POST, 1))
            set(ccurl_easy_setopt_data_callback(easy, CURLOPT_READFUNCTION, upstreamReadCallback))
            set(ccurl_easy_setopt_pointer(easy, CURLOPT_READDATA, me))
            set(ccurl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(length)))
            if length < 0 { extra.append("Transfer-Encoding: chunked") }
            if method != "POST" { set(ccurl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method)) }
        } else {
            state.withLock { $0.uploadFinished = true; $0.uploadDone = true }
            switch method {
            case "GET": set(ccurl_easy_setopt_long(easy, CURLOPT_HTTPGET, 1))
            case "HEAD": set(ccurl_easy_setopt_long(easy, CURLOPT_NOBODY, 1))
            default: set(ccurl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method))
            }
        }
        // curl adds `Accept: */*` unless told otherwise; forward exactly what the client sent.
        if !request.headers.contains(where: { $0.name.lowercased() == "accept" }) { extra.append("Accept:") }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for field in request.headers {
            // "Name;" is curl's syntax for a header with an empty value.
            let line = field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)"
            list = curl_slist_append(list, line)
        }
        for line in extra { list = curl_slist_append(list, line) }
        headerList = list
        set(ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list))
        if !ok {
            throw UpstreamFailure(step: .connect, message: "cannot configure the upstream request to \(request.url)")
        }
    }

    // Response header line (loop thread). Parsed on bytes: one String for the name and one for the value, made
    // outside the lock (Character-wise parsing of every header line was a visible part of the loop thread's time).
    func onHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        var end = bytes.count
        while end > 0 && (bytes[end - 1] == 0x0D || bytes[end - 1] == 0x0A) { end -= 1 }
        let line = UnsafeRawBufferPointer(rebasing: bytes[0..<end])
        enum Line { case status(Int, String), blank, field(HeaderField), other }
        let parsed: Line
        if end == 0 {
            parsed = .blank
        } else if end >= 5 && line[0] == 0x48 && line[1] == 0x54 && line[2] == 0x54 && line[3] == 0x50 && line[4] == 0x2F {
            // "HTTP/x.y SP status SP reason": fields split on runs of spaces, the reason is the rest of the line.
            var i = 0
            func skip(_ space: Bool) { while i < end && (line[i] == 0x20) == space { i += 1 } }
            skip(false); skip(true)
            let codeStart = i
            skip(false)
            let code = Int(String(decoding: UnsafeRawBufferPointer(rebasing: line[codeStart..<i]), as: UTF8.self)) ?? 0
            skip(true)
            parsed = .status(code, i < end ? String(decoding: UnsafeRawBufferPointer(rebasing: line[i..<end]), as: UTF8.self) : "")
        } else if let colon = line.firstIndex(of: 0x3A) {
            var v = colon + 1
            while v < end && (line[v] == 0x20 || line[v] == 0x09) { v += 1 }
            parsed = .field(HeaderField(
                name: String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<colon]), as: UTF8.self),
                value: String(decoding: UnsafeRawBufferPointer(rebasing: line[v..<end]), as: UTF8.self)))
        } else {
            parsed = .other
        }
        state.withLock { s in
            if s.head != nil { return }   // trailers
            switch parsed {
            case .status(let code, let reason):
                s.status = code
                s.reason = reason
                s.headerLines.removeAll()
            case .blank:
                if (100..<200).contains(s.status) { s.status = 0; s.headerLines.removeAll(); return }
                s.head = UpstreamHead(status: s.status, reason: s.reason, headers: s.headerLines)
                s.headAtNanos = Clock.nanos()
                queueNotify(&s)
            case .field(let field):
                s.headerLines.append(field)
            case .other:
                break
            }
        }
    }

    // Response body bytes (loop thread). Returns false to pause (too much unread).
    func onBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        state.withLock { s in
            if s.buffered >= Self.highWater { s.recvPaused = true; return false }
            // Consecutive pieces of one pass are joined, so the reader gets them as one buffer.
            if s.chunks.isEmpty { s.chunks.append(ByteBuffer(bytes: bytes)) }
            else { s.chunks[s.chunks.count - 1].writeBytes(bytes) }
            s.buffered += bytes.count
            queueNotify(&s)
            return true
        }
    }

    /// Puts this transfer on the loop's list of waiters to resume after the current pass (loop thread, under `state`).
    private func queueNotify(_ s: inout State) {
        guard !s.notifyQueued else { return }
        s.notifyQueued = true
        loop.touched.append(self)
    }

    enum ReadOutcome { case bytes(Int), pause, end, abort }

    // Request body bytes wanted by curl (loop thread).
    func onRead(into out: UnsafeMutableRawBufferPointer) -> ReadOutcome {
        state.withLock { s in
            if s.uploadAborted { return .abort }
            let n = min(out.count, s.upload.readableBytes)
            if n > 0 {
                s.upload.withUnsafeReadableBytes { src in out.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<n])) }
                s.upload.moveReaderIndex(forwardBy: n)
                if s.upload.readableBytes == 0 { s.upload.clear() }
                if s.upload.readableBytes <= Self.highWater / 2, let w = s.uploadWaiter { s.uploadWaiter = nil; w.resume() }
                return .bytes(n)
            }
            if s.uploadFinished { s.uploadDone = true; return .end }
            s.sendPaused = true
            return .pause
        }
    }
}

private func transfer(_ userdata: UnsafeMutableRawPointer?) -> UpstreamTransfer {
    Unmanaged<UpstreamTransfer>.fromOpaque(userdata!).takeUnretainedValue()
}

private let upstreamHeaderCallback: ccurl_data_callback = { ptr, size, count, userdata in
    let n = size * count
    transfer(userdata).onHeaderLine(UnsafeRawBufferPointer(start: ptr, count: n))
    return n
}

private let upstreamWriteCallback: ccurl_data_callback = { ptr, size, count, userdata in
    let n = size * count
    return transfer(userdata).onBody(UnsafeRawBufferPointer(start: ptr, count: n)) ? n : ccurl_writefunc_pause()
}

private let upstreamReadCallback: ccurl_data_callback = { ptr, size, count, userdata in
    switch transfer(userdata).onRead(into: UnsafeMutableRawBufferPointer(start: ptr, count: size * count)) {
    case .bytes(let n): return n
    case .end: return 0
    case .pause: return ccurl_readfunc_pause()
    case .abort: return ccurl_readfunc_abort()
    }
}
