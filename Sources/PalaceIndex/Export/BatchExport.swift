import Dispatch
import PalaceLog
import PalaceWire
import Synchronization

/// A streaming export of the exchanges a `ListQuery` selects, newest first, in one of the `ExportFormat`s.
///
/// Pull-based so any consumer can drive it: the CLI writes each chunk to a file, the web admin to an HTTP body:
/// ```swift
/// let export = BatchExport(index: index, query: q, format: .jsonl, redactor: .standard)
/// while let chunk = try export.nextChunk() { try out.write(chunk) }
/// ```
/// Invariants: memory is bounded by one page of loaded exchanges (`loadPageSize`) and a fixed number of groups
/// in flight, whatever the number exported; `query.limit` (nil or ≤ 0 = all) caps the number exported; the chunks
/// concatenated form one valid document (HAR header and footer included, also for an empty selection), the same
/// bytes whatever the threads did. For `.json` use `nextCase()`.
///
/// JSONL and HAR run as a bounded pipeline (`FormatPipeline`) from the first `nextChunk`: one thread loads groups
/// of exchanges from the index and the log, two format them (escaping and masking are most of an export's CPU),
/// and `nextChunk` hands the results out in order. Don't call `nextExchange`, `count` or `forEachSummary` once
/// `nextChunk` has started: the pipeline's thread owns the index connection until the export ends.
public final class BatchExport {
    public let format: ExportFormat
    public let redactor: Redactor
    public let version: String
    /// Ids per index query (`count`, `forEachSummary`).
    public static let pageSize = 2000
    /// Exchanges loaded together (one SELECT, one pass over their log range); their records are held until written.
    static let loadPageSize = 500

    let index: ExchangeIndex
    let query: ListQuery
    let source: ExchangeSource
    var pipeline: FormatPipeline?
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
        self.source = ExchangeSource(index: index, query: query)
    }

    deinit { pipeline?.cancel() }

    var cap: Int? { (query.limit ?? 0) > 0 ? query.limit : nil }

    /// The next selected exchange (summary + records), or nil at the end.
    public func nextExchange() throws -> (ExchangeSummary, LoadedExchange)? {
        try source.next()
    }

    /// The next piece of the output document, or nil when it is complete.
    public func nextChunk() throws -> [UInt8]? {
        if finished { return nil }
        switch format {
        case .json:
            throw IndexError.invalidArgument("the json format is a directory of files: use nextCase()")
        case .har, .jsonl:
            if !started {
                started = true
                pipeline = FormatPipeline(source: source, redactor: redactor, groupSize: Self.groupSize,
                                          format: format == .har ? Self.harEntries : Self.jsonlLines)
                pipeline?.start()
                if format == .har { return HARFormat.header(version: version) }
            }
            guard let (bytes, n) = try pipeline?.next() else {
                finished = true
                pipeline = nil
                return format == .har ? HARFormat.footer : nil
            }
            exported += n
            return bytes
        case .openaiChat:
            while let (s, ex) = try nextExchange() {
                if let line = OpenAIChatFormat.line(s, ex, redactor: redactor) { exported += 1; return line }
                skipped += 1
            }
            finished = true
            return nil
        }
    }

    /// Exchanges per pipeline group (one chunk: a few MB of lines for typical traffic).
    static let groupSize = 64

    static func jsonlLines(_ group: [(ExchangeSummary, LoadedExchange)], _ seq: Int, _ redactor: Redactor) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(group.reduce(0) { $0 + estimate($1.1) })
        for (s, ex) in group { JSONLFormat.append(s, ex, redactor: redactor, to: &out) }
        return out
    }

    /// HAR entries, each after a separator but the document's first.
    static func harEntries(_ group: [(ExchangeSummary, LoadedExchange)], _ seq: Int, _ redactor: Redactor) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(group.reduce(0) { $0 + 2 * estimate($1.1) })
        for (i, (s, ex)) in group.enumerated() {
            if seq > 0 || i > 0 { out.append(contentsOf: HARFormat.separator) }
            HARFormat.append(s, ex, redactor: redactor, to: &out)
        }
        return out
    }

    /// Bytes an exchange's line takes, roughly (escaped bodies grow; a stream adds its merged completion).
    static func estimate(_ ex: LoadedExchange) -> Int {
        ex.requestBody.count + ex.responseBody.count + ex.responseBody.count / 4 + (ex.end?.mergedCompletion?.count ?? 0) + 4096
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

/// The selection's exchanges in order, a page at a time (`PageLoader`, with a per-exchange fallback); stops after
/// `query.limit`. Used by one thread at a time.
final class ExchangeSource: @unchecked Sendable {
    let index: ExchangeIndex
    let query: ListQuery
    let cap: Int?
    var page: [Int64] = []
    var pageRecords: [Int64: LoadedExchange] = [:]
    var pageSummaries: [Int64: ExchangeSummary] = [:]
    var pagePos = 0
    var cursor: Int64?
    var exhausted = false
    var taken = 0

    init(index: ExchangeIndex, query: ListQuery) {
        self.index = index
        self.query = query
        cap = (query.limit ?? 0) > 0 ? query.limit : nil
    }

    func next() throws -> (ExchangeSummary, LoadedExchange)? {
        while true {
            if let cap, taken >= cap { return nil }
            if pagePos >= page.count {
                if exhausted { return nil }
                var q = query
                q.limit = BatchExport.loadPageSize
                q.beforeID = cursor.map { c in query.beforeID.map { min($0, c) } ?? c } ?? query.beforeID
                page = try index.ids(q)
                pagePos = 0
                if page.count < BatchExport.loadPageSize { exhausted = true }
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
            if let ex = pageRecords.removeValue(forKey: id) { taken += 1; return (s, ex) }
            guard let ex = try index.exchange(id: id) else { continue }
            taken += 1
            return (s, ex)
        }
    }
}

/// The bounded pipeline behind `BatchExport.nextChunk` (JSONL, HAR): a loader thread takes groups of exchanges
/// from the `ExchangeSource`, two worker threads format them (group k on worker k % 2, each with its own
/// `Redactor`: one with `--redact` patterns is not thread-safe), and `next()` returns the results in group order.
///
/// Invariants: at most `inFlight` groups exist at once (loaded, being formatted, or formatted and not yet taken):
/// the loader waits for a slot before each group and `next()` frees one, so memory is flat whatever the number
/// exported. The output does not depend on scheduling: each group's bytes are a function of the group and its
/// number. A loading error ends the document: `next()` throws it after the groups before it. `cancel()` (the
/// export dropped before its end) stops the loader at its next group and waits for that.
final class FormatPipeline: @unchecked Sendable {
    typealias Group = [(ExchangeSummary, LoadedExchange)]
    typealias Formatter = @Sendable (Group, Int, Redactor) -> [UInt8]

    enum Result {
        case bytes([UInt8], Int)
        case end
        case failure(any Error)
    }

    let source: ExchangeSource
    let format: Formatter
    let redactors: [Redactor]
    let groupSize: Int
    static let inFlight = 6
    /// Free group slots. Starts at 0 and is signalled up to `inFlight` (libdispatch traps when a semaphore is
    /// freed below its initial value, which a cancelled pipeline's would be).
    let slots = DispatchSemaphore(value: 0)
    let posted = DispatchSemaphore(value: 0)
    let results = Mutex<[Int: Result]>([:])
    let cancelled = Atomic<Bool>(false)
    let loader = DispatchQueue(label: "moonpalace.export.load")
    let workers: [DispatchQueue]
    /// The next group `next()` returns (consumer side only).
    var nextGroup = 0
    var ended = false

    init(source: ExchangeSource, redactor: Redactor, groupSize: Int, format: @escaping Formatter) {
        self.source = source
        self.format = format
        self.groupSize = groupSize
        var rs = [redactor]
        if !redactor.hasExtraPatterns {
            rs.append(redactor)
        } else if let copy = try? Redactor(extraPatterns: redactor.patternTexts) {
            rs.append(copy)
        }
        redactors = rs
        workers = rs.indices.map { DispatchQueue(label: "moonpalace.export.format\($0)") }
        for _ in 0..<Self.inFlight { slots.signal() }
    }

    func start() {
        loader.async { self.load() }
    }

    /// Stops the loader and returns once it has stopped (it may be finishing a group), so the index connection is
    /// free again.
    func cancel() {
        cancelled.store(true, ordering: .relaxed)
        slots.signal()
        loader.sync {}
    }

    private func post(_ seq: Int, _ r: Result) {
        results.withLock { $0[seq] = r }
        posted.signal()
    }

    private func load() {
        var seq = 0
        while true {
            slots.wait()
            if cancelled.load(ordering: .relaxed) { return }
            var group: Group = []
            group.reserveCapacity(groupSize)
            do {
                while group.count < groupSize, let item = try source.next() { group.append(item) }
            } catch {
                post(seq, .failure(error))
                return
            }
            if group.isEmpty { post(seq, .end); return }
            let s = seq, k = seq % workers.count
            let items = Handoff(group)
            workers[k].async { [format, redactors] in
                let bytes = format(items.value, s, redactors[k])
                self.post(s, .bytes(bytes, items.value.count))
            }
            seq += 1
        }
    }

    /// The next group's bytes and exchange count, in order; nil at the end.
    func next() throws -> ([UInt8], Int)? {
        if ended { return nil }
        while true {
            let want = nextGroup
            if let r = results.withLock({ $0.removeValue(forKey: want) }) {
                switch r {
                case .bytes(let b, let n):
                    nextGroup += 1
                    slots.signal()
                    return (b, n)
                case .end:
                    ended = true
                    return nil
                case .failure(let e):
                    ended = true
                    throw e
                }
            }
            posted.wait()
        }
    }
}

/// A group handed from the loader thread to a worker: each is touched by one thread at a time (the queue's
/// happens-before orders the hand-over).
final class Handoff<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
