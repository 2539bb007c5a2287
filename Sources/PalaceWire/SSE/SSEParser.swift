/// Incremental server-sent-events parser (WHATWG event-stream rules) for upstream bodies read in arbitrary pieces.
///
/// - Line ends may be `\n`, `\r\n` or `\r`, mixed freely; an event ends at a blank line. A `\r` at the end of a
///   read is held back until the next byte shows whether it is half of `\r\n`, so the events (and their `raw`
///   bytes) are identical however the stream is split.
/// - `data:` lines are joined with `\n`; one space after the colon is dropped; lines starting with `:` are comments;
///   unknown fields are ignored; a leading UTF-8 byte-order mark is ignored.
/// - Every block with at least one non-blank line becomes an event (also comment-only ones: `hasData == false`).
/// - Events have no size limit; memory held is the bytes of the one event still in progress.
/// - Cost: each input byte is scanned once and copied once into the pending buffer; the usual event, one `data:`
///   line and a blank line (`data: …\n\n`), is read in place (its data is a range of that buffer, no copy).
public struct SSEParser: Sendable {
    /// Bytes of the event in progress (from `pendingStart`, just after the previous event's terminator).
    private var buffer: [UInt8] = []
    /// Start of the event in progress; bytes before it belong to events already returned (dropped at the next
    /// `append`, so `next()`'s data and raw range stay valid until then).
    private var pendingStart = 0
    /// Next position in `buffer` not yet examined for a line end.
    private var scan = 0
    /// Start of the current, not yet terminated line.
    private var lineStart = 0
    private var hasFields = false
    private var data: [UInt8] = []
    private var dataLines = 0
    private var event: String?
    private var id: String?
    private var retry: Int?
    private var atStreamStart = true
    /// The fields of the event `next()` returned last (its data in `completedData`, or in `buffer[completedRange]`
    /// for an event read in place).
    private var completedData: [UInt8] = []
    private var completedRange: Range<Int>?
    private var completedEvent: String?
    private var completedID: String?
    private var completedRetry: Int?

    /// An event found by `next()`: where its exact bytes are and whether it had `data` lines; its data is read with
    /// `withData` or taken with `swapData` (valid until the next `append`/`feed`/`finish`).
    public struct Found: Sendable {
        public var raw: Range<Int>
        public var hasData: Bool
        public var rawCount: Int { raw.count }
    }

    public init() {}

    /// Feeds the next piece of the stream; returns the events it completed, in order.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [SSEEvent] {
        append(bytes)
        var events: [SSEEvent] = []
        while let found = next() { events.append(makeEvent(found)) }
        return events
    }

    /// Allocation-free reading: `append` a piece, then call `next()` until it returns nil. Same events as `feed`.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        completedRange = nil
        if pendingStart > 0 {
            buffer.removeSubrange(0..<pendingStart)
            scan -= pendingStart
            lineStart -= pendingStart
            pendingStart = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete event of what was appended, or nil when more bytes are needed.
    public mutating func next() -> Found? {
        if let found = nextInPlace() { return found }
        completedRange = nil
        let count = buffer.count
        while scan < count {
            var i = scan
            let found: Bool = buffer.withUnsafeBufferPointer { b in
                guard let base = b.baseAddress else { return false }
                while i < count {
                    if i + 8 <= count {   // 8 bytes at a time while none is a line end
                        let v = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                        if !Self.hasLineEnd(v) { i += 8; continue }
                    }
                    let c = b[i]
                    if c == 0x0A || c == 0x0D { return true }
                    i += 1
                }
                return false
            }
            guard found else { scan = count; break }
            let terminatorLength: Int
            if buffer[i] == 0x0D {
                guard i + 1 < count else { scan = i; break }   // wait: is it "\r\n"?
                terminatorLength = buffer[i + 1] == 0x0A ? 2 : 1
            } else {
                terminatorLength = 1
            }
            let lineEnd = i + terminatorLength
            let completed = endLine(contentEnd: i)
            lineStart = lineEnd
            scan = lineEnd
            if let hasData = completed {
                let raw = pendingStart..<lineEnd
                pendingStart = lineEnd
                return Found(raw: raw, hasData: hasData)
            }
        }
        return nil
    }

    /// The usual event, `data:` + value + `\n\n`, starting where the last event ended: read without copying its
    /// data (same event, raw bytes and state as the line-by-line reading gives). nil: any other shape, or not all
    /// of it here yet (then the line-by-line reading takes it, from the same position).
    @inline(__always)
    private mutating func nextInPlace() -> Found? {
        let start = pendingStart
        guard !atStreamStart, !hasFields, scan == start, lineStart == start else { return nil }
        let count = buffer.count
        return buffer.withUnsafeBufferPointer { b -> Found? in
            guard let base = b.baseAddress, count - start >= 7, b[start] == UInt8(ascii: "d"), b[start + 1] == UInt8(ascii: "a"),
                  b[start + 2] == UInt8(ascii: "t"), b[start + 3] == UInt8(ascii: "a"), b[start + 4] == UInt8(ascii: ":")
            else { return nil }
            let valueStart = b[start + 5] == UInt8(ascii: " ") ? start + 6 : start + 5
            var i = start + 5
            while i < count {
                if i + 8 <= count {
                    let v = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                    if !Self.hasLineEnd(v) { i += 8; continue }
                }
                let c = b[i]
                if c == 0x0A || c == 0x0D { break }
                i += 1
            }
            guard i + 1 < count, b[i] == 0x0A, b[i + 1] == 0x0A else { return nil }
            let end = i + 2
            completedRange = valueStart..<i
            completedEvent = nil
            completedID = nil
            completedRetry = nil
            pendingStart = end
            lineStart = end
            scan = end
            return Found(raw: start..<end, hasData: true)
        }
    }

    /// Whether any byte of `x` is `\n` or `\r` (exact: the "has a zero byte" word trick on x ^ pattern).
    @inline(__always)
    static func hasLineEnd(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let n = x ^ (ones &* 0x0A), r = x ^ (ones &* 0x0D)
        return ((n &- ones) & ~n & highs) | ((r &- ones) & ~r & highs) != 0
    }

    /// The data of the event `next()` returned last (`data:` lines joined by `\n`).
    public func withData<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let range = completedRange {
            return try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[range])) }
        }
        return try completedData.withUnsafeBufferPointer(body)
    }

    /// The `event` field of the event `next()` returned last (nil when it had none).
    public var lastEventName: String? { completedEvent }

    /// The `id` field of the event `next()` returned last (nil when it had none).
    public var lastEventID: String? { completedID }

    /// Exchanges the data of the event `next()` returned last with `other` (no copy: the caller reads the data from
    /// its own array, and the parser reuses the caller's old one).
    public mutating func swapData(_ other: inout [UInt8]) {
        if let range = completedRange {   // read in place: copied out now
            completedData.removeAll(keepingCapacity: true)
            completedData.append(contentsOf: buffer[range])
            completedRange = nil
        }
        swap(&completedData, &other)
    }

    /// The exact bytes of the event `next()` returned last.
    public func withRaw<R>(_ found: Found, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[found.raw])) }
    }

    /// Ends the stream: returns the last event when the stream stopped without its blank line (or nil), and
    /// resets the parser so it can read a new stream.
    public mutating func finish() -> SSEEvent? {
        append(EmptyCollection<UInt8>())
        var result: SSEEvent?
        let count = buffer.count
        if scan < count, buffer[scan] == 0x0D {   // a held-back "\r" at the very end is a line end after all
            if let hasData = endLine(contentEnd: scan) {
                result = makeEvent(Found(raw: 0..<(scan + 1), hasData: hasData))
            }
            lineStart = scan + 1
        }
        if result == nil {
            if lineStart < count { _ = endLine(contentEnd: count) }
            if hasFields {
                result = SSEEvent(event: event, data: String(decoding: data, as: UTF8.self), id: id, retry: retry,
                                  hasData: dataLines > 0, raw: Array(buffer[0..<count]))
            }
        }
        self = SSEParser()
        return result
    }

    /// Processes the line `buffer[lineStart..<contentEnd]`. When it is the blank line that ends an event, the
    /// event's fields move to `completed…` and the result says whether it had data lines; nil otherwise.
    private mutating func endLine(contentEnd: Int) -> Bool? {
        var start = lineStart
        if atStreamStart {
            atStreamStart = false
            if contentEnd - start >= 3, buffer[start] == 0xEF, buffer[start + 1] == 0xBB, buffer[start + 2] == 0xBF {
                start += 3
            }
        }
        if start == contentEnd {
            guard hasFields else { return nil }   // stray blank line: it stays in the next event's raw
            let hasData = dataLines > 0
            swap(&data, &completedData)
            completedEvent = event
            completedID = id
            completedRetry = retry
            resetEvent()
            return hasData
        }
        hasFields = true
        buffer.withUnsafeBufferPointer { b in
            processField(UnsafeBufferPointer(rebasing: b[start..<contentEnd]))
        }
        return nil
    }

    private mutating func processField(_ line: UnsafeBufferPointer<UInt8>) {
        if line[0] == UInt8(ascii: ":") { return }   // comment
        // The usual line, `data: …`, without the general field split.
        if line.count >= 5, line[0] == UInt8(ascii: "d"), line[1] == UInt8(ascii: "a"), line[2] == UInt8(ascii: "t"),
           line[3] == UInt8(ascii: "a"), line[4] == UInt8(ascii: ":") {
            let valueStart = line.count > 5 && line[5] == UInt8(ascii: " ") ? 6 : 5
            if dataLines > 0 { data.append(0x0A) }
            data.append(contentsOf: UnsafeBufferPointer(rebasing: line[valueStart...]))
            dataLines += 1
            return
        }
        var nameEnd = 0
        while nameEnd < line.count, line[nameEnd] != UInt8(ascii: ":") { nameEnd += 1 }
        var valueStart = min(nameEnd + 1, line.count)
        if valueStart < line.count, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let name = UnsafeBufferPointer(rebasing: line[0..<nameEnd])
        let value = UnsafeBufferPointer(rebasing: line[valueStart...])
        if name.elementsEqual("data".utf8) {
            if dataLines > 0 { data.append(0x0A) }
            data.append(contentsOf: value)
            dataLines += 1
        } else if name.elementsEqual("event".utf8) {
            event = String(decoding: value, as: UTF8.self)
        } else if name.elementsEqual("id".utf8) {
            if !value.contains(0) { id = String(decoding: value, as: UTF8.self) }
        } else if name.elementsEqual("retry".utf8) {
            if !value.isEmpty, value.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) {
                retry = Int(String(decoding: value, as: UTF8.self))
            }
        }
    }

    private func makeEvent(_ found: Found) -> SSEEvent {
        SSEEvent(event: completedEvent, data: withData { String(decoding: $0, as: UTF8.self) }, id: completedID,
                 retry: completedRetry, hasData: found.hasData, raw: Array(buffer[found.raw]))
    }

    private mutating func resetEvent() {
        hasFields = false
        data.removeAll(keepingCapacity: true)
        dataLines = 0
        event = nil
        id = nil
        retry = nil
    }
}
