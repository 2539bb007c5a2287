import PalaceLog
import PalaceWire

/// One exchange read back from the log through the positions the index stored.
public struct LoadedExchange: Sendable {
    public var begin: ExchangeBegin
    public var end: ExchangeEnd?
    public var requestBody: [UInt8]
    /// The response body exactly as received (raw SSE for streams), reassembled from chunk records and the end.
    public var responseBody: [UInt8]
    /// When the response body's reads arrived (FORMAT.md 1.2), in body order; empty for records written before 1.2
    /// (or without a response stream).
    public var responseArrivals: [BodyArrival] = []

    public var isStream: Bool { begin.flags.union(end?.flags ?? []).contains(.stream) }

    /// The response as predicates and `inspect --merge-event-stream` see it: a stream's merged completion
    /// (from the end record, or merged again from the raw events), otherwise the body.
    public var mergedResponseBody: [UInt8] {
        guard isStream else { return responseBody }
        if let m = end?.mergedCompletion { return m }
        return StreamMerge.merge(responseBody) ?? responseBody
    }

    /// `Name: value\r\n` per header, as MoonPalace stored header blocks.
    public static func headerText(_ headers: [HeaderField]) -> String {
        headers.map { "\($0.name): \($0.value)\r\n" }.joined()
    }

    public var texts: RecordTexts {
        RecordTexts(requestBody: String(decoding: requestBody, as: UTF8.self),
                    responseBody: end == nil && responseBody.isEmpty ? nil : String(decoding: mergedResponseBody, as: UTF8.self),
                    requestHeader: Self.headerText(begin.requestHeaders),
                    responseHeader: end.map { Self.headerText($0.responseHeaders) })
    }
}

/// Merges a raw SSE body into one chat.completion with PalaceWire's parser and merger.
enum StreamMerge {
    static func merge(_ raw: [UInt8]) -> [UInt8]? {
        var parser = SSEParser()
        var events = parser.feed(raw)
        if let last = parser.finish() { events.append(last) }
        var merger = CompletionMerger()
        for e in events where !e.isDone { try? merger.add(sseData: e.data) }
        guard merger.chunkCount > 0 else { return nil }
        return Array(merger.result().serialized().utf8)
    }
}

/// Reads exchanges from the log by the positions in their index row.
///
/// Invariant: a position that no longer holds a record of that exchange (the log was compacted or replaced
/// behind the index) throws `IndexError.stale`, so the caller rebuilds instead of showing wrong data.
struct ExchangeLoader {
    let reader: LogReader

    func load(id: Int64, begin: RecordPosition, positions: [RecordPosition]) throws -> LoadedExchange {
        let first: StoredRecord
        do { first = try reader.read(at: begin) } catch { throw IndexError.stale("exchange \(id): \(error)") }
        guard case .begin(let b) = first.record, b.exchangeID == UInt64(id) else {
            throw IndexError.stale("exchange \(id): the log no longer holds its begin record at \(begin)")
        }
        var ex = LoadedExchange(begin: b, end: nil, requestBody: b.requestBody, responseBody: [])
        var reqChunks: [(UInt64, [UInt8])] = [], respChunks: [(UInt64, [UInt8])] = []
        var arrivals: [(offset: UInt64, arrivals: BodyArrivals)] = []
        for p in positions {
            let r: StoredRecord
            do { r = try reader.read(at: p) } catch { throw IndexError.stale("exchange \(id): \(error)") }
            switch r.record {
            case .chunk(let c) where c.exchangeID == UInt64(id):
                if c.direction == .request { reqChunks.append((c.offset, c.bytes)) } else {
                    respChunks.append((c.offset, c.bytes))
                    arrivals.append((c.offset, c.arrivals))
                }
            case .end(let e) where e.exchangeID == UInt64(id):
                ex.end = e
                arrivals.append((e.responseBodyOffset, e.arrivals))
            default:
                throw IndexError.stale("exchange \(id): unexpected record at \(p)")
            }
        }
        for (_, bytes) in reqChunks.sorted(by: { $0.0 < $1.0 }) { ex.requestBody += bytes }
        var body: [UInt8] = []
        for (_, bytes) in respChunks.sorted(by: { $0.0 < $1.0 }) { body += bytes }
        if let e = ex.end { body += e.responseBody }
        ex.responseBody = body
        ex.responseArrivals = BodyArrivals.join(arrivals)
        return ex
    }
}
