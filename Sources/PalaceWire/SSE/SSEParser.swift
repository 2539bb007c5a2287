/// Incremental server-sent-events parser (WHATWG event-stream rules) for upstream bodies read in arbitrary pieces.
///
/// - Line ends may be `\n`, `\r\n` or `\r`, mixed freely; an event ends at a blank line. A `\r` at the end of a
///   read is held back until the next byte shows whether it is half of `\r\n`, so the events (and their `raw`
///   bytes) are identical however the stream is split.
/// - `data:` lines are joined with `\n`; one space after the colon is dropped; lines starting with `:` are comments;
///   unknown fields are ignored; a leading UTF-8 byte-order mark is ignored.
/// - Every block with at least one non-blank line becomes an event (also comment-only ones: `hasData == false`).
/// - Events have no size limit; memory held is the bytes of the one event still in progress.
/// - Cost: each input byte is scanned once and copied twice (into the pending buffer, then into `raw`).
public struct SSEParser: Sendable {
    /// Bytes of the event in progress, from just after the previous event's terminator.
    private var buffer: [UInt8] = []
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

    public init() {}

    /// Feeds the next piece of the stream; returns the events it completed, in order.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [SSEEvent] {
        buffer.append(contentsOf: bytes)
        var events: [SSEEvent] = []
        var eventStart = 0
        let count = buffer.count
        while scan < count {
            var i = scan
            let found: Bool = buffer.withUnsafeBufferPointer { b in
                while i < count {
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
            if let event = endLine(contentEnd: i, lineEnd: lineEnd, eventStart: eventStart) {
                events.append(event)
                eventStart = lineEnd
            }
            lineStart = lineEnd
            scan = lineEnd
        }
        if eventStart > 0 {
            buffer.removeSubrange(0..<eventStart)
            scan -= eventStart
            lineStart -= eventStart
        }
        return events
    }

    /// Ends the stream: returns the last event when the stream stopped without its blank line (or nil), and
    /// resets the parser so it can read a new stream.
    public mutating func finish() -> SSEEvent? {
        var result: SSEEvent?
        let count = buffer.count
        if scan < count, buffer[scan] == 0x0D {   // a held-back "\r" at the very end is a line end after all
            result = endLine(contentEnd: scan, lineEnd: scan + 1, eventStart: 0)
            lineStart = scan + 1
        }
        if result == nil {
            if lineStart < count { _ = endLine(contentEnd: count, lineEnd: count, eventStart: 0) }
            if hasFields { result = makeEvent(raw: buffer[0..<count]) }
        }
        self = SSEParser()
        return result
    }

    /// Processes the line `buffer[lineStart..<contentEnd]`; returns an event when the line is the blank line
    /// that ends one.
    private mutating func endLine(contentEnd: Int, lineEnd: Int, eventStart: Int) -> SSEEvent? {
        var start = lineStart
        if atStreamStart {
            atStreamStart = false
            if contentEnd - start >= 3, buffer[start] == 0xEF, buffer[start + 1] == 0xBB, buffer[start + 2] == 0xBF {
                start += 3
            }
        }
        if start == contentEnd {
            guard hasFields else { return nil }   // stray blank line: it stays in the next event's raw
            let event = makeEvent(raw: buffer[eventStart..<lineEnd])
            resetEvent()
            return event
        }
        hasFields = true
        buffer.withUnsafeBufferPointer { b in
            processField(UnsafeBufferPointer(rebasing: b[start..<contentEnd]))
        }
        return nil
    }

    private mutating func processField(_ line: UnsafeBufferPointer<UInt8>) {
        if line[0] == UInt8(ascii: ":") { return }   // comment
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

    private func makeEvent(raw: ArraySlice<UInt8>) -> SSEEvent {
        SSEEvent(event: event, data: String(decoding: data, as: UTF8.self), id: id, retry: retry,
                 hasData: dataLines > 0, raw: Array(raw))
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
