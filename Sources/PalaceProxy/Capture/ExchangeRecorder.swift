import Hummingbird
import PalaceLog

/// Writes one exchange to the log (DESIGN.md "One exchange, end to end"): a `begin` record before anything goes
/// upstream, `chunk` records while long bodies flow (every 64 KiB or 1 s), and the `end` record.
///
/// Invariants: a capture failure never throws into forwarding — it is reported to `CaptureHealth` and becomes a
/// warning of this exchange's log block. Without a begin record (its write failed) nothing else is written for the
/// exchange. Body bytes given here are the decoded bytes (gunzipped), so chunk offsets count decoded bytes.
///
/// Not thread-safe by design: one exchange is handled by one task at a time (the request handler, then the response
/// body writer, which starts after the handler returned), so it is `@unchecked Sendable` to cross that hand-off.
public final class ExchangeRecorder: @unchecked Sendable {
    static let chunkBytes = 64 * 1024
    static let chunkIntervalNanos: UInt64 = 1_000_000_000

    let writer: LogWriter
    let health: CaptureHealth
    public private(set) var exchangeID: UInt64?
    /// Capture problems of this exchange, for its log block.
    public private(set) var warnings: [String] = []

    private var requestPending: [UInt8] = []
    private var requestOffset: UInt64 = 0
    public private(set) var requestLength: UInt64 = 0
    private var responsePending: [UInt8] = []
    private var responseOffset: UInt64 = 0
    public private(set) var responseLength: UInt64 = 0
    private var lastFlush = Clock.nanos()
    /// When the pending response bytes arrived (streams: see `responseBody(_:arrivedAt:)`); written with them.
    private var responseArrivals = BodyArrivals()
    /// The first 4 KiB of the decoded response body, for the log block of an upstream error.
    private var responsePreview: [UInt8] = []
    /// Whether to keep that preview (only an upstream error's block shows it; set once the head is known).
    var keepsPreview = true
    var errorBodyPreview: String { String(decoding: responsePreview, as: UTF8.self) }

    init(writer: LogWriter, health: CaptureHealth) {
        self.writer = writer
        self.health = health
    }

    /// Appends the begin record; `begin.requestBody` is the first part of the request body (≤ 64 KiB).
    func begin(_ begin: ExchangeBegin) async {
        requestLength = UInt64(begin.requestBody.count)
        requestOffset = requestLength
        do {
            exchangeID = try await writer.appendBegin(begin).exchangeID
            health.succeeded()
        } catch {
            warnings.append(health.failed(record: "begin", error: error))
        }
    }

    /// More request body (after the part in the begin record).
    func requestBody(_ bytes: ByteBuffer) async {
        requestLength += UInt64(bytes.readableBytes)
        guard exchangeID != nil else { return }
        requestPending.append(contentsOf: bytes.readableBytesView)
        if requestPending.count >= Self.chunkBytes { await flushRequest() }
    }

    /// The request body is complete: writes what is still pending.
    func finishRequestBody() async {
        if !requestPending.isEmpty { await flushRequest() }
    }

    /// Decoded response body bytes as they pass to the client; `arrivedAt` (µs since the request was sent) is noted
    /// beside them (a few bytes appended to one buffer) and written in the same chunk or end record (FORMAT.md 1.2).
    func responseBody(_ bytes: some Collection<UInt8>, arrivedAt micros: Int64? = nil) async {
        let count = bytes.count
        responseLength += UInt64(count)
        if keepsPreview && responsePreview.count < 4096 { responsePreview.append(contentsOf: bytes.prefix(4096 - responsePreview.count)) }
        guard exchangeID != nil else { return }
        responsePending.append(contentsOf: bytes)
        if let micros {
            if responseArrivals.isEmpty { responseArrivals = BodyArrivals(capacity: 256) }
            responseArrivals.append(length: count, micros: micros)
        }
        if responsePending.count >= Self.chunkBytes || Clock.nanos() &- lastFlush >= Self.chunkIntervalNanos {
            await flushResponse()
        }
    }

    /// Appends the end record. The recorder fills in the body tail, offsets and lengths.
    func end(_ end: ExchangeEnd) async {
        guard let id = exchangeID else { return }
        if !requestPending.isEmpty { await flushRequest() }
        var end = end
        end.exchangeID = id
        end.responseBody = responsePending
        end.responseBodyOffset = responseOffset
        end.requestBodyLength = requestLength
        end.responseBodyLength = responseLength
        end.warnings += warnings
        end.arrivals = responseArrivals
        responsePending = []
        responseArrivals = BodyArrivals()
        do {
            _ = try await writer.append(.end(end))
            health.succeeded()
        } catch {
            warnings.append(health.failed(record: "end", error: error))
        }
    }

    private func flushRequest() async {
        let bytes = requestPending
        requestPending = []
        await appendChunk(direction: .request, offset: requestOffset, bytes: bytes)
        requestOffset += UInt64(bytes.count)
    }

    private func flushResponse() async {
        let bytes = responsePending
        let arrivals = responseArrivals
        responsePending = []
        responseArrivals = BodyArrivals()
        lastFlush = Clock.nanos()
        if bytes.isEmpty { return }
        await appendChunk(direction: .response, offset: responseOffset, bytes: bytes, arrivals: arrivals)
        responseOffset += UInt64(bytes.count)
    }

    private func appendChunk(direction: BodyDirection, offset: UInt64, bytes: [UInt8],
                             arrivals: BodyArrivals = BodyArrivals()) async {
        guard let id = exchangeID else { return }
        do {
            _ = try await writer.append(.chunk(ExchangeChunk(exchangeID: id, direction: direction, offset: offset, bytes: bytes,
                                                             arrivals: arrivals)))
            health.succeeded()
        } catch {
            // The offsets keep counting, so a reader sees exactly where the hole is.
            let warning = health.failed(record: "chunk", error: error)
            if !warnings.contains(warning) { warnings.append(warning) }
        }
    }
}
