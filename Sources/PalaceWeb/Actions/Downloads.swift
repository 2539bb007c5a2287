import HTTPTypes
import Hummingbird
import NIOPosix
import PalaceIndex
import PalaceLog

/// Downloads, through the export library (issue 6) so the files are byte for byte what `moonpalace export` writes:
/// one exchange's case JSON (MoonPalace's layout and file name) or curl command, and the current list filter as
/// HAR or JSON Lines, streamed (memory bounded by one page of ids, whatever the history's size). Secrets are
/// redacted with the export's standard redactor.
extension PalaceWebApp {
    func caseDownload(_ id: Int64, curl: Bool) async throws -> Response {
        let found: (ExchangeSummary, LoadedExchange?)? = try await pool.run { index in
            guard let s = try index.summary(id: id) else { return nil }
            return (s, try index.exchange(id: id))
        }
        guard let (s, loaded) = found else {
            return page(.notFound, layout.errorPage(title: "No exchange #\(id)", message: "There is no exchange #\(id) in this data directory."))
        }
        guard let ex = loaded else {
            return page(.gone, layout.errorPage(title: "Records gone", message: "The log no longer holds exchange #\(id)'s records."))
        }
        if curl {
            return Self.bytes(.ok, Array(CaseExport.curl(s, ex, redactor: .standard).utf8), contentType: "text/plain; charset=utf-8",
                              download: "exchange-\(id)-curl.sh")
        }
        let name = (try? CaseExport.fileName(s)) ?? "exchange-\(id).json"
        return Self.bytes(.ok, CaseExport.caseJSON(s, ex, redactor: .standard, streamBody: .raw),
                          contentType: "application/json; charset=utf-8", download: Self.safeFileName(name))
    }

    func batchDownload(_ request: Request, format: ExportFormat) async throws -> Response {
        var filter = ListFilter(FormData(request.uri.query ?? ""), defaultLimit: options.pageSize)
        filter.before = nil
        let query: ListQuery
        do { query = try filter.listQuery(limit: nil) } catch {
            let message: String
            switch error {
            case .predicate(let e): message = e.description
            case .field(_, let m): message = m
            }
            return Self.bytes(.badRequest, Array((message + "\n").utf8), contentType: "text/plain; charset=utf-8")
        }
        let export = try await NIOThreadPool.singleton.runIfActive { [pool] in
            ExportCursor(try BatchExport(index: ExchangeIndex(dataDirectory: pool.dataDirectory), query: query,
                                         format: format, redactor: .standard, version: "moonpalace"))
        }
        var headers = HTTPFields()
        headers[.contentType] = format == .har ? "application/json; charset=utf-8" : "application/x-ndjson; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"moonpalace-export.\(format == .har ? "har" : "jsonl")\""
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            while let bytes = try await NIOThreadPool.singleton.runIfActive({ try export.next(atLeast: 64 * 1024) }) {
                try await writer.write(ByteBuffer(bytes: bytes))
            }
            try await writer.finish(nil)
        })
    }

    /// Quotes and path separators have no place in a Content-Disposition file name.
    static func safeFileName(_ name: String) -> String {
        String(name.map { $0 == "\"" || $0 == "/" || $0 == "\\" || $0.asciiValue.map { $0 < 0x20 } == true ? "_" : $0 })
    }
}

/// A `BatchExport` with its own index connection, advanced by one thread-pool job at a time (never two at once:
/// the response body awaits each job before the next), which is why it may cross tasks.
final class ExportCursor: @unchecked Sendable {
    let export: BatchExport

    init(_ export: BatchExport) { self.export = export }

    /// The next ≥ `atLeast` bytes of the document (less at its end), or nil when it is complete.
    func next(atLeast: Int) throws -> [UInt8]? {
        var out: [UInt8] = []
        while out.count < atLeast, let chunk = try export.nextChunk() { out += chunk }
        return out.isEmpty ? nil : out
    }
}
