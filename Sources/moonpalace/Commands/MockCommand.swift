import ArgumentParser
import PalaceMock

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `moonpalace mock` — a Moonshot-compatible API server for offline use, tests and benchmarks.
struct MockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock",
        abstract: "Serve a Moonshot-compatible mock of the Kimi API (chat, streams, tools, caching, files).",
        discussion: """
            Prints its base URL (e.g. http://127.0.0.1:9989/v1) on stdout once listening, then serves until \
            SIGINT/SIGTERM. Point an OpenAI SDK's base_url at it. Content is generated deterministically: the same \
            request with the same seed (the request's "seed" field, else --seed) gets the same content bytes.

            Routes: POST /v1/chat/completions (JSON and SSE, n, tools, thinking models stream reasoning_content, \
            max_tokens, response_format {"type":"json_object"} (content is one JSON object), Kimi's partial mode (a \
            last assistant message with "partial": true is continued, not repeated; a prefix cut by max_tokens gets \
            exactly the rest of the answer)), GET /v1/models, POST/GET /v1/files, GET/DELETE /v1/files/{id}, GET /v1/files/{id}/content, \
            POST /v1/tokenizers/estimate-token-count, GET /v1/users/me/balance, /v1/caching (+ /refs/tags).

            Scenarios (per request: header X-Mock-Scenario: NAME[,NAME...]; for all requests: --scenario NAME):
            \(MockScenario.allCases.map { "  \($0.rawValue.padding(18)) \($0.summary)" }.joined(separator: "\n"))

            Per-request timing headers: X-Mock-First-Token-Delay-Ms, X-Mock-Chunk-Delay-Ms, X-Mock-Chunks, \
            X-Mock-Head-Delay-Ms (slow-head). Stream pacing is deadline-based: event k is due at start + first-token \
            delay + k x chunk delay. Opt-in: X-Mock-Gzip: 1 (gzip the body when Accept-Encoding allows it; streams \
            are sync-flushed per event), X-Mock-Timestamps: 1 (an SSE comment ": t=<unix seconds.microseconds>" \
            before every event, stamped when it is written), X-Mock-Completion-Id: TEXT (the completion's "id" instead \
            of a generated chatcmpl-..., e.g. to test how a client handles a hostile id).

            Debug routes (test facilities the real API lacks; no key check, no scenarios):
              /_mock/echo[/PATH]     any method: the request as received, as JSON (method, target, path, host, \
            headers, body_length, body_sha256); an endpoint of http://HOST:PORT/_mock/echo echoes every proxied request
              GET /_mock/bytes?n=N   N bytes 0,1,...,255,0,1,... with Content-Length
              /_mock/hold?tag=T[&sse=1][&ms=20000]   any method: no answer (sse=1: an SSE head and one event) until \
            the caller closes the connection or ms pass
              GET /_mock/events[?tag=T]   what holds saw: held, then closed (with how) or released, with held_ms

            Response headers: Msh-Request-Id, Server-Timing (inner; dur=N), Msh-Uid, Msh-Gid, and \
            Msh-Context-Cache-Id / -Token-Saved / -Token-Exp when a context cache is used.
            """
    )

    @Option(help: "Interface to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 = any free port; the printed URL tells which).")
    var port = 9989

    @Option(help: "Default content seed (a request's own \"seed\" field wins).")
    var seed: UInt64 = 0

    @Option(help: "Require 'Authorization: Bearer KEY' (missing or different key → 401).")
    var requireKey: String?

    @Option(name: .customLong("scenario"), help: "Apply a scenario to every request (repeatable; see the list above).")
    var scenarios: [String] = []

    @Option(help: "Delay before the first stream event, in ms.")
    var firstTokenDelayMs = 0

    @Option(help: "Delay between stream events, in ms.")
    var chunkDelayMs = 0

    @Option(help: "Number of content chunks per answer (one token each); default: 12–60, seeded.")
    var chunks: Int?

    @Option(help: "How long the slow-head scenario holds the response head, in ms.")
    var headDelayMs = 1500

    @Option(help: "Content bytes of a huge-scenario answer.")
    var hugeBytes = 24 << 20

    @Option(help: "How long a new context cache stays 'pending', in ms.")
    var cacheReadyDelayMs = 0

    func run() async throws {
        var options = MockOptions()
        options.host = host
        options.port = port
        options.seed = seed
        options.requireKey = requireKey
        options.firstTokenDelayMs = firstTokenDelayMs
        options.chunkDelayMs = chunkDelayMs
        options.chunks = chunks
        options.headDelayMs = headDelayMs
        options.hugeBytes = hugeBytes
        options.cacheReadyDelayMs = cacheReadyDelayMs
        do {
            options.scenarios = try scenarios.flatMap { try MockScenario.parseList($0) }
            try options.validate()
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        let host = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host   // not Foundation's contains (CFString)
        // Twice: the pages of loading and argument parsing go now, so the start-up peak (VmHWM) is not their sum
        // with the server's start; those of the server's start go once it listens.
        StartupPages.release()
        MockServer.adoptEventLoopsAsGlobalExecutor()
        do {
            try await MockServer(options: options).run { port in
                // Listening: what start-up alone needed (code and linker tables) is given back.
                StartupPages.release()
                print("http://\(host):\(port)/v1")
                fflush(nil)   // stdout may be a pipe: the URL must reach the reader now
            }
        } catch {
            printError("error: mock server: \(error) (is port \(port) already in use? try --port 0)")
            throw ExitCode(1)
        }
    }

    private func printError(_ message: String) {
        let line = message + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
