import Dispatch
import PalaceLog
import PalaceWire

/// A streaming export of the exchanges a `ListQuery` selects, newest first, in one of the `ExportFormat`s.
///
/// Pull-based so any consumer can drive it: the CLI writes each chunk to a file, the web admin to an HTTP body:
/// ```swift
/// let export = BatchExport(index: index, query: q, format: .jsonl, redactor: .standard)
/// while let chunk = try export.nextChunk() { try out.write(chunk) }
/// ```
/// Invariants: memory is bounded by one page of ids (`pageSize`) and one exchange at a time, whatever the number
/// exported; `query.limit` (nil or ≤ 0 = all) caps the number exported; the chunks concatenated form one valid
/// document (HAR header and footer included, also for an empty selection). For `.json` use `nextCase()`.
public final class BatchExport {
    public let format: ExportFormat
    public let redactor: Redactor
    public let version: String
    public static let pageSize = 2000

    let index: ExchangeIndex
    let query: ListQuery
    var page: [Int64] = []
    var pageRecords: [Int64: LoadedExchange] = [:]
    var pageSummaries: [Int64: ExchangeSummary] = [:]
    var pagePos = 0
    var cursor: Int64?
    var exhausted = false
    var started = false
    var finished = false
    /// Exchanges written so far.
    public private(set) var exported = 0
    /// Exchanges the format had nothing to write for (openai-chat: no chat answer).
    public private(set) var skipped = 0

    public init(index: ExchangeIndex, query: ListQuery, format: ExportFormat, redactor: Redactor,
                version: String = "moonpalace") {
        self.index = index
        self.query = query
        self.format = format
        self.redactor = redactor
        self.version = version
    }

    var cap: Int? { (query.limit ?? 0) > 0 ? query.limit : nil }

    /// The next selected exchange (summary + records), or nil at the end.
    public func nextExchange() throws -> (ExchangeSummary, LoadedExchange)? {
        while true {
            if let cap, exported + skipped >= cap { return nil }
            if pagePos >= page.count {
                if exhausted { return nil }
                var q = query
                q.limit = Self.pageSize
                q.beforeID = cursor.map { c in query.beforeID.map { min($0, c) } ?? c } ?? query.beforeID
                page = try index.ids(q)
                pagePos = 0
                if page.count < Self.pageSize { exhausted = true }
                if let last = page.last { cursor = last }
                if page.isEmpty { return nil }
                let loaded = PageLoader(index: index).load(page)
                pageRecords = loaded.records
                pageSummaries = loaded.summaries
                if pageSummaries.isEmpty {
                    for s in try index.summaries(ids: page) { pageSummaries[s.id] = s }
                }
            }
            let id = page[pagePos]
            pagePos += 1
            // A row may vanish between the id query and here (cleanup running): skip it.
            guard let s = pageSummaries.removeValue(forKey: id) else { continue }
            if let ex = pageRecords.removeValue(forKey: id) { return (s, ex) }
            guard let ex = try index.exchange(id: id) else { continue }
            return (s, ex)
        }
    }

    /// The next piece of the output document, or nil when it is complete.
    public func nextChunk() throws -> [UInt8]? {
        if finished { return nil }
        switch format {
        case .json:
            throw IndexError.invalidArgument("the json format is a directory of files: use nextCase()")
        case .har:
            if !started { started = true; return HARFormat.header(version: version) }
            guard let (s, ex) = try nextExchange() else { finished = true; return HARFormat.footer }
            let entry = HARFormat.entry(s, ex, redactor: redactor)
            exported += 1
            return exported == 1 ? entry : HARFormat.separator + entry
        case .jsonl:
            if let next = pendingChunk { pendingChunk = nil; return next }
            var group: [(ExchangeSummary, LoadedExchange)] = []
            while group.count < Self.groupSize, let item = try nextExchange() {
                group.append(item)
                exported += 1
            }
            guard !group.isEmpty else { finished = true; return nil }
            let (first, second) = Self.jsonlLines(group, redactor: redactor)
            if !second.isEmpty { pendingChunk = second }
            return first

        case .openaiChat:
            while let (s, ex) = try nextExchange() {
                if let line = OpenAIChatFormat.line(s, ex, redactor: redactor) { exported += 1; return line }
                skipped += 1
            }
            finished = true
            return nil
        }
    }

    /// Exchanges formatted per JSONL chunk. A chunk holds their lines (a few MB at most for typical traffic).
    static let groupSize = 256
    /// The second half of the last group's lines, returned by the next `nextChunk`.
    var pendingChunk: [UInt8]?

    /// The JSON Lines of `group`, its two halves formatted in parallel (formatting — escaping, masking — is most of
    /// an export's CPU, and the lines are independent); the halves' bytes in order. Sequential with `--redact`
    /// patterns (a `Redactor` with patterns is not thread-safe) and for small groups.
    static func jsonlLines(_ group: [(ExchangeSummary, LoadedExchange)], redactor: Redactor) -> ([UInt8], [UInt8]) {
        guard group.count >= 8, !redactor.hasExtraPatterns else { return (lines(group[...], redactor), []) }
        let mid = group.count / 2
        let halves = Halves()
        DispatchQueue.concurrentPerform(iterations: 2) { k in
            if k == 0 { halves.first = lines(group[..<mid], redactor) } else { halves.second = lines(group[mid...], redactor) }
        }
        return (halves.first, halves.second)
    }

    /// The two halves' lines; each field is written by one of the two iterations, read after both are done.
    final class Halves: @unchecked Sendable {
        var first: [UInt8] = []
        var second: [UInt8] = []
    }

    static func lines(_ part: ArraySlice<(ExchangeSummary, LoadedExchange)>, _ redactor: Redactor) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(part.reduce(0) { $0 + $1.1.requestBody.count + $1.1.responseBody.count + 2048 })
        for (s, ex) in part { JSONLFormat.append(s, ex, redactor: redactor, to: &out) }
        return out
    }

    /// For `.json`: the next case file's name (MoonPalace's rule) and bytes, or nil at the end.
    public func nextCase(streamBody: CaseExport.StreamBody = .raw, escapeHTML: Bool = false) throws -> (name: String, bytes: [UInt8])? {
        guard let (s, ex) = try nextExchange() else { return nil }
        exported += 1
        return (try CaseExport.fileName(s), CaseExport.caseJSON(s, ex, redactor: redactor, streamBody: streamBody,
                                                                   escapeHTML: escapeHTML))
    }

    /// How many exchanges the query selects (capped by its limit), counted a page of ids at a time — for a
    /// progress bar. Costs one pass over the ids.
    public func count() throws -> Int {
        var n = 0
        var before = query.beforeID
        while true {
            var q = query
            q.limit = 10_000
            q.beforeID = before
            let ids = try index.ids(q)
            n += ids.count
            if let cap, n >= cap { return cap }
            if ids.count < 10_000 { return n }
            before = ids.last
        }
    }

    /// The summaries of the selection, page by page (for checks before a directory export writes anything).
    public func forEachSummary(_ body: (ExchangeSummary) throws -> Void) throws {
        var before = query.beforeID
        var n = 0
        while true {
            var q = query
            q.limit = Self.pageSize
            q.beforeID = before
            let ids = try index.ids(q)
            for id in ids {
                if let cap, n >= cap { return }
                if let s = try index.summary(id: id) { try body(s); n += 1 }
            }
            if ids.count < Self.pageSize { return }
            before = ids.last
        }
    }
}
