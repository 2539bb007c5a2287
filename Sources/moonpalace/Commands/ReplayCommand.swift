import ArgumentParser
import Foundation
import PalaceIndex
import PalaceLog
import PalaceMock
import PalaceProxy

/// `moonpalace replay --id N` — sends a recorded request again (optionally edited) and compares the answers.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Send a recorded request again and compare the responses",
        discussion: """
            The new exchange is recorded too, linked to the original (inspect shows replay_of): through the \
            'moonpalace start' serving this data directory when one runs, otherwise through a temporary recording \
            proxy. Edit the request with --set JSONPATH=VALUE (repeatable; VALUE is JSON, else a string), e.g. \
            --set temperature=0 --set messages.-1.content='Say hi'. The key comes from --key, config.yaml \
            (start.key) or MOONSHOT_API_KEY (a proxy started with --key adds its own). Prints a compact diff of \
            status, finish_reason, usage and content.
            """
    )

    @Option(help: "Exchange id.") var id: Int64?
    @Option(help: "Completion id (chatcmpl-…).") var chatcmpl: String?
    @Option(help: "Moonshot request id (Msh-Request-Id).") var requestid: String?
    @Option(help: "Edit the request body: JSONPATH=VALUE (repeatable).") var set: [String] = []
    @Option(help: ArgumentHelp("Upstream when no proxy runs: cn, global, mock, or a URL (default: the recorded endpoint).", valueName: "ENDPOINT"))
    var endpoint: String?
    @Option(name: [.short, .long], help: "API key (default: config start.key, then MOONSHOT_API_KEY).") var key: String?
    @Flag(help: "Print the replay's response body after the diff.") var body = false
    @OptionGroup var data: DataDirOptions

    func validate() throws {
        if id == nil && chatcmpl == nil && requestid == nil { throw ValidationError("give --id, --chatcmpl or --requestid") }
    }

    func run() async throws {
        try await IndexCLI.runAsync {
            let (index, dir, config) = try IndexCLI.openWithConfig(data)
            let (s, ex) = try IndexCLI.select(index, id: id, chatcmpl: chatcmpl, requestID: requestid)
            let env = ProcessInfo.processInfo.environment
            let apiKey = key ?? config.start.key ?? env["MOONSHOT_API_KEY"]
            if apiKey == nil {
                IndexCLI.note("no API key from --key, config.yaml (start.key) or MOONSHOT_API_KEY: sending without "
                              + "Authorization (a proxy started with --key adds its own)")
            }
            var request = ReplayRequest(originalID: UInt64(s.id), begin: ex.begin, requestBody: ex.requestBody, key: apiKey)
            try request.apply(sets: set)

            let outcome: ReplayOutcome
            if let proxy = RunningProxy.find(dataDirectory: dir.path) {
                if let endpoint {
                    let wanted = endpoint.lowercased() == "mock" ? "mock" : ProxyConfiguration.normalizeEndpoint(endpoint)
                    if wanted != proxy.endpoint {
                        throw IndexError.invalidArgument("the running proxy (pid \(proxy.pid)) forwards to \(proxy.endpoint), "
                            + "not \(endpoint); replay records through it, so omit --endpoint or stop that proxy")
                    }
                }
                outcome = try await ReplayRunner.send(request, via: proxy, logDirectory: dir.logDirectory)
            } else {
                var upstream = endpoint ?? (ex.begin.endpoint.isEmpty ? (config.endpoint ?? "cn") : ex.begin.endpoint)
                if upstream.lowercased() == "mock" {
                    // Left running: the process ends right after (cancelling it makes Hummingbird log shutdown errors).
                    let (_, port) = try await Self.startMock()
                    upstream = "http://127.0.0.1:\(port)"
                }
                outcome = try await ReplayRunner.sendRecording(request, endpoint: upstream, logDirectory: dir.logDirectory,
                                                               environment: env)
            }
            let newID = outcome.exchangeID.map { "exchange \($0)" } ?? "a new exchange"
            IndexCLI.out("replayed exchange \(s.id) as \(newID) via \(outcome.via)")
            let original = ResponseFacts(status: s.status ?? 0, body: ex.responseBody, stream: ex.isStream)
            let isSSE = (outcome.reply.header("content-type") ?? "").lowercased().hasPrefix("text/event-stream")
            let replay = ResponseFacts(status: outcome.reply.status, body: outcome.reply.body, stream: isSSE)
            IndexCLI.out(ResponseFacts.diff(original: original, replay: replay, width: max(40, (IndexCLI.terminalWidth() ?? 120) - 20)))
            if body { IndexCLI.out(String(decoding: outcome.reply.body, as: UTF8.self)) }
            try? index.catchUp()
        }
    }

    /// PalaceMock in-process on a free port (for `--endpoint mock`).
    static func startMock() async throws -> (Task<Void, Never>, Int) {
        var options = MockOptions()
        options.port = 0
        let server = MockServer(options: options)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let task = Task {
            do { try await server.run(handleSignals: false) { port in continuation.yield(port) } } catch {}
            continuation.finish()
        }
        for await port in ports { return (task, port) }
        throw IndexError.invalidArgument("the built-in mock server did not start")
    }
}
