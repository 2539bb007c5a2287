import ArgumentParser
import PalaceIndex
import PalaceLog
import PalaceProxy
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `moonpalace export` — one case (MoonPalace's `export`: JSON case file or curl command, good/bad marks and tags)
/// or a batch (`--all` / `-p` … `--format json|jsonl|har|openai-chat --output PATH`).
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a Moonshot AI request (or many)",
        discussion: """
            One exchange: select it with --id, --chatcmpl or --requestid. Prints MoonPalace's case JSON (metadata, \
            request, response, error, category, tags) to stdout, or writes it to --output FILE or into --directory \
            DIR under MoonPalace's file name (<chatcmpl>.json, requestid-<id>.json, or <method>-<path>-<time>.json). \
            --curl prints a runnable curl command instead. --good/--bad and --tag are recorded in the log (they \
            survive index rebuilds and are searchable: -p "category == 'badcase'", -p "tags ~ 'code'").

            Many exchanges: --all, or -p PREDICATE (repeatable), --since/--until, --limit N, with \
            --format json (a directory of case files), jsonl (one object per line, merged completion for streams), \
            har (HAR 1.2), or openai-chat ({"messages": [...]} per chat answer, for evaluation and fine-tuning sets), \
            and --output PATH. Output is streamed (constant memory), written under a temporary name and renamed when \
            complete; existing files are kept unless --force.

            Secrets are masked by default (Authorization and other credential headers, sk-… keys, bearer tokens, \
            JWTs, members such as api_key/password); --redact REGEX masks more (POSIX extended regex, repeatable); \
            --no-redact exports as recorded.
            """
    )

    @Option(help: "Exchange id.") var id: Int64?
    @Option(help: "Completion id (chatcmpl-…).") var chatcmpl: String?
    @Option(help: "Moonshot request id (Msh-Request-Id).") var requestid: String?
    @Flag(help: "Mark the exchange as a good case.") var good = false
    @Flag(help: "Mark the exchange as a bad case.") var bad = false
    @Option(help: "Add a tag (repeatable).") var tag: [String] = []
    @Option(help: "Write the case file into this existing directory under MoonPalace's file name.") var directory: String?
    @Option(name: [.short, .long], help: "Output: a file path, 'stdout' (default for one case) or 'stderr'; for --format json, a directory.")
    var output: String?
    @Flag(help: "Print a runnable curl command instead of JSON.") var curl = false
    @Flag(name: .customLong("escape-html"), help: "Escape <, > and & in JSON strings.") var escapeHTML = false

    @Flag(help: "Batch: every exchange.") var all = false
    @Option(name: [.short, .long], help: "Batch: filter expression (repeatable; all must hold).") var predicate: [String] = []
    @Option(help: "Batch: requested at or after (YYYY-MM-DD, 'YYYY-MM-DD HH:MM:SS', RFC 3339, or an age: 2h, 3d).")
    var since: String?
    @Option(help: "Batch: requested before (same formats as --since).") var until: String?
    @Option(help: "Batch: at most N exchanges (newest first).") var limit: Int?
    @Flag(help: "Batch: only chat completions.") var chatonly = false
    @Option(help: "Batch format: json (directory of case files), jsonl, har, openai-chat.") var format: String?

    @Option(help: "Also mask matches of this POSIX extended regular expression (repeatable).") var redact: [String] = []
    @Flag(name: .customLong("no-redact"), help: "Export secrets as recorded (no masking).") var noRedact = false
    @Flag(help: "Overwrite existing files.") var force = false
    @OptionGroup var data: DataDirOptions

    var isBatch: Bool { all || !predicate.isEmpty || since != nil || until != nil || format != nil || limit != nil || chatonly }

    func validate() throws {
        if good && bad { throw ValidationError("--good and --bad are mutually exclusive") }
        if noRedact && !redact.isEmpty { throw ValidationError("--no-redact and --redact contradict each other") }
        let selectors = id != nil || chatcmpl != nil || requestid != nil
        if isBatch {
            if selectors { throw ValidationError("give either --id/--chatcmpl/--requestid (one case) or --all/-p (a batch), not both") }
            if good || bad || !tag.isEmpty || curl || directory != nil {
                throw ValidationError("--good/--bad/--tag/--curl/--directory apply to one case (--id, --chatcmpl or --requestid)")
            }
            if let format, ExportFormat(rawValue: format) == nil {
                throw ValidationError("--format: unknown format \"\(format)\"; choose from \(ExportFormat.names)")
            }
            if output == nil { throw ValidationError("a batch export needs --output PATH (a directory for --format json)") }
            if format == "json", ["-", "stdout", "stderr"].contains(output ?? "") {
                throw ValidationError("--format json writes a directory of case files: give --output DIR")
            }
            if let limit, limit <= 0 { throw ValidationError("--limit must be at least 1") }
        } else if !selectors {
            throw ValidationError("give --id, --chatcmpl or --requestid (one case), or --all / -p PREDICATE (a batch)")
        }
    }

    func redactor() throws -> Redactor {
        if noRedact { return .none }
        return redact.isEmpty ? .standard : try Redactor(extraPatterns: redact)
    }

    func run() async throws {
        try await IndexCLI.runAsync {
            if isBatch { try batch() } else { try await single() }
        }
    }

    // MARK: one case

    func single() async throws {
        let (index, dir) = try IndexCLI.open(data)
        guard let found = try index.find(id: id, chatcmpl: chatcmpl, requestID: requestid) else {
            throw IndexError.notFound("no exchange matches \(selectorText); try 'moonpalace list'")
        }
        let red = try redactor()
        // Where the case goes is settled (directory exists, file absent or --force) before the mark is written,
        // so a bad destination leaves neither a file nor an annotation behind.
        guard let before = try index.summary(id: found) else { throw IndexError.notFound("exchange \(found) is gone") }
        var destination: AtomicOutput?
        if let directory {
            try Self.requireDirectory(directory, create: false)
            destination = try AtomicOutput(path: Self.join(directory, try CaseExport.fileName(before)), overwrite: force)
        } else if !curl, let path = output, !["stdout", "-", "stderr"].contains(path) {
            destination = try AtomicOutput(path: path, overwrite: force)
        }
        if good || bad || !tag.isEmpty {
            let a = Annotation(exchangeID: UInt64(found), category: good ? "goodcase" : bad ? "badcase" : nil, addTags: tag)
            try await AnnotationSink.append(a, dataDirectory: dir)
            try index.catchUp()
        }
        guard let s = try index.summary(id: found), let ex = try index.exchange(id: found) else {
            throw IndexError.notFound("exchange \(found) is gone")
        }
        if curl {
            IndexCLI.writeAll(1, CaseExport.curl(s, ex, redactor: red))
            return
        }
        let bytes = CaseExport.caseJSON(s, ex, redactor: red, streamBody: .raw, escapeHTML: escapeHTML)
        if let out = destination {
            try out.write(bytes)
            try out.commit()
            if directory != nil { IndexCLI.note("exported exchange \(found) to \(out.path)") }
            return
        }
        IndexCLI.writeAll(output == "stderr" ? 2 : 1, String(decoding: bytes, as: UTF8.self))
    }

    var selectorText: String {
        var parts: [String] = []
        if let id { parts.append("--id \(id)") }
        if let chatcmpl { parts.append("--chatcmpl \(chatcmpl)") }
        if let requestid { parts.append("--requestid \(requestid)") }
        return parts.joined(separator: " ")
    }

    // MARK: batch

    func batch() throws {
        let (index, _) = try IndexCLI.open(data)
        let fmt = ExportFormat(rawValue: format ?? "jsonl") ?? .jsonl
        let q = ListQuery(limit: limit, since: try IndexCLI.time(since, flag: "--since"),
                          until: try IndexCLI.time(until, flag: "--until", end: true), predicates: predicate,
                          chatOnly: chatonly)
        var probe = q
        probe.limit = 1
        guard try !index.ids(probe).isEmpty else {
            throw IndexError.notFound("no exchange matches the selection; nothing was written")
        }
        let export = BatchExport(index: index, query: q, format: fmt, redactor: try redactor(),
                                 version: MoonPalace.version)
        let progress = ExportProgress(total: isatty(2) != 0 ? try export.count() : nil, verb: "exporting")
        let target = output ?? "-"
        if fmt == .json {
            try Self.writeDirectory(export, directory: target, force: force, escapeHTML: escapeHTML, progress: progress)
            progress.finish()
            IndexCLI.note("exported \(export.exported) exchange(s) into \(target)")
            return
        }
        if target == "-" || target == "stdout" {
            while let chunk = try export.nextChunk() {
                IndexCLI.writeAll(1, String(decoding: chunk, as: UTF8.self))
                progress.update(export.exported + export.skipped)
            }
        } else {
            ExportAllocator.keepFreedMemory()
            let out = try AtomicOutput(path: target, overwrite: force)
            while let chunk = try export.nextChunk() {
                try out.write(chunk)
                progress.update(export.exported + export.skipped)
            }
            try out.commit()
        }
        progress.finish()
        let skipped = export.skipped > 0 ? " (\(export.skipped) without a chat answer skipped)" : ""
        IndexCLI.note("exported \(export.exported) exchange(s) as \(fmt.rawValue) to \(target)\(skipped)")
    }

    /// Case files into `directory` (created if missing). Every name is checked before the first file is written:
    /// an id that would escape the directory, or an existing file without `force`, stops the export with nothing
    /// written. Names repeated within the export get `-2`, `-3`, … before `.json`.
    static func writeDirectory(_ export: BatchExport, directory: String, force: Bool, escapeHTML: Bool,
                               progress: ExportProgress?, streamBody: CaseExport.StreamBody = .raw,
                               announce: Bool = false) throws {
        try requireDirectory(directory, create: true)
        var seen: Set<String> = []
        try export.forEachSummary { s in
            let name = try CaseExport.fileName(s)
            if !force && !seen.contains(name) && access(join(directory, name), F_OK) == 0 {
                throw IndexError.invalidArgument("\(join(directory, name)) already exists (exchange \(s.id)); add --force "
                    + "to overwrite, or choose another directory; nothing was written")
            }
            seen.insert(name)
        }
        seen.removeAll()
        while let (name, bytes) = try export.nextCase(streamBody: streamBody, escapeHTML: escapeHTML) {
            var unique = name
            if seen.contains(unique) {
                let stem = name.hasSuffix(".json") ? String(name.dropLast(5)) : name
                var k = 2
                repeat { unique = "\(stem)-\(k).json"; k += 1 } while seen.contains(unique)
            }
            seen.insert(unique)
            let path = join(directory, unique)
            let out = try AtomicOutput(path: path, overwrite: true)
            try out.write(bytes)
            try out.commit()
            if announce { IndexCLI.err("[MoonPalace] \(logTime()) export to \(path) successfully\n") }
            progress?.update(export.exported)
        }
    }

    static func logTime() -> String {
        var t = time(nil)
        var p = tm()
        localtime_r(&t, &p)
        return IndexCLI.format4(Int(p.tm_year) + 1900) + "/" + IndexCLI.two(Int(p.tm_mon) + 1) + "/" + IndexCLI.two(Int(p.tm_mday))
            + " " + IndexCLI.two(Int(p.tm_hour)) + ":" + IndexCLI.two(Int(p.tm_min)) + ":" + IndexCLI.two(Int(p.tm_sec))
    }

    static func join(_ dir: String, _ name: String) -> String { dir.hasSuffix("/") ? dir + name : dir + "/" + name }

    /// The directory must exist (or is created) and be writable.
    static func requireDirectory(_ dir: String, create: Bool) throws {
        var st = stat()
        if stat(dir, &st) != 0 {
            guard create else { throw IndexError.invalidArgument("directory \(dir) does not exist; create it first") }
            if mkdir(dir, 0o755) != 0 {
                throw IndexError.invalidArgument("cannot create directory \(dir): \(String(cString: strerror(errno)))")
            }
            return
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw IndexError.invalidArgument("\(dir) is not a directory") }
        guard access(dir, W_OK) == 0 else { throw IndexError.invalidArgument("directory \(dir) is not writable") }
    }
}

/// A one-line progress bar on stderr, shown only when stderr is a terminal (`total` is then known).
final class ExportProgress {
    let total: Int?
    let verb: String
    var last = 0
    var shown = false

    init(total: Int?, verb: String) {
        self.total = total
        self.verb = verb
    }

    func update(_ done: Int) {
        guard let total, total > 0, done - last >= max(1, total / 200) || done == total else { return }
        last = done
        shown = true
        let width = 30
        let filled = min(width, done * width / total)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        IndexCLI.err("\r\(verb) [\(bar)] \(done)/\(total) (\(done * 100 / total)%)")
    }

    func finish() { if shown { IndexCLI.err("\r\u{1B}[K") } }
}

/// Appends a good/bad mark or tags to the log: directly when no process holds the log's writer lock, else
/// through the `moonpalace start` serving the data directory (its control request), which owns the log.
enum AnnotationSink {
    static func append(_ a: Annotation, dataDirectory dir: DataDirectory) async throws {
        try await LogAppendRoute.run(dir, whenBusy: "stop it and run the command again",
                                     direct: { writer in _ = try await writer.append(.annotation(a)) },
                                     viaProxy: { proxy in try await ControlClient.annotate(a, via: proxy) })
    }
}

/// The one way a CLI command adds records to a data directory's log: with its own writer when the log's lock is
/// free (synced and closed after `direct`), else through the running proxy's control channel (`viaProxy`), since
/// the log has exactly one writer. A lock held by a process that takes no control requests is an error ending with
/// `whenBusy` (what the user can do).
enum LogAppendRoute {
    static func run(_ dir: DataDirectory, whenBusy: String, direct: (LogWriter) async throws -> Void,
                    viaProxy: (RunningProxy) async throws -> Void) async throws {
        let writer: LogWriter
        do throws(LogError) {
            writer = try LogWriter.open(directory: dir.logDirectory)
        } catch {
            guard case .locked(_, let pid) = error else { throw error }
            guard let proxy = RunningProxy.find(dataDirectory: dir.path) else {
                let who = pid.map { "moonpalace (pid \($0))" } ?? "another moonpalace"
                throw IndexError.logBusy("\(who) is writing to this data directory's log and does not accept control "
                    + "requests (an older version, or not a proxy); " + whenBusy)
            }
            try await viaProxy(proxy)
            return
        }
        var failure: (any Error)?
        do { try await direct(writer); try await writer.sync() } catch { failure = error }
        do { try await writer.close() } catch { if failure == nil { failure = error } }
        if let failure { throw failure }
    }
}
