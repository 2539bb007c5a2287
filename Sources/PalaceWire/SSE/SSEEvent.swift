/// One server-sent event as framed by `SSEParser` (WHATWG "event stream" field rules).
///
/// Invariant: concatenating the `raw` bytes of every event a parser returned (from `feed` and `finish`)
/// reproduces its input byte for byte, except blank lines at the very end of the stream that no event follows.
/// `raw` of an event therefore starts with any stray blank lines that preceded it and ends with its terminating
/// blank line (absent for the event `finish()` returns when the stream ended without one).
public struct SSEEvent: Sendable, Hashable {
    /// The `event:` field (last one wins), nil when absent.
    public var event: String?
    /// The `data:` lines joined by `\n` ("" when the event has none: see `hasData`).
    public var data: String
    /// The `id:` field of this event (last one wins), nil when absent or containing NUL.
    public var id: String?
    /// The `retry:` field when it is all ASCII digits.
    public var retry: Int?
    /// Whether at least one `data` line was present (a comment-only event has none).
    public var hasData: Bool
    /// The exact bytes of this event, including its terminator.
    public var raw: [UInt8]

    public init(event: String? = nil, data: String, id: String? = nil, retry: Int? = nil, hasData: Bool = true, raw: [UInt8] = []) {
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry
        self.hasData = hasData
        self.raw = raw
    }

    /// The OpenAI/Moonshot end-of-stream marker: `data: [DONE]` (surrounding spaces ignored).
    public var isDone: Bool {
        guard hasData else { return false }
        var d = Substring(data)
        while d.first == " " { d = d.dropFirst() }
        while d.last == " " { d = d.dropLast() }
        return d == "[DONE]"
    }
}
