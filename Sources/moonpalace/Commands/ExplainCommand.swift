import ArgumentParser
import Foundation
import PalaceIndex
import PalaceLog
import PalaceProxy
import PalaceWire

/// `moonpalace explain --id N` — MoonPalace's roadmap item "use Kimi to help solve errors": sends the exchange
/// (secrets masked) with a diagnostic prompt to the Kimi API and prints the model's diagnosis.
struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Ask Kimi to diagnose a recorded exchange",
        discussion: """
            Sends the exchange as MoonPalace's case JSON (secrets masked, long bodies shortened) with a diagnostic \
            prompt to /v1/chat/completions and prints the answer. Endpoint and key: --endpoint / --key, else \
            config.yaml (endpoint, start.key), else MOONSHOT_API_KEY with the cn endpoint. --print-prompt shows what \
            would be sent without sending it.
            """
    )

    @Option(help: "Exchange id.") var id: Int64?
    @Option(help: "Completion id (chatcmpl-…).") var chatcmpl: String?
    @Option(help: "Moonshot request id (Msh-Request-Id).") var requestid: String?
    @Option(help: ArgumentHelp("cn, global, mock (the built-in mock, offline), or a URL (e.g. a 'moonpalace mock').", valueName: "ENDPOINT")) var endpoint: String?
    @Option(name: [.short, .long], help: "API key.") var key: String?
    @Option(help: "Model to ask.") var model = "kimi-k2-turbo-preview"
    @Flag(name: .customLong("print-prompt"), help: "Print the request that would be sent, and stop.") var printPrompt = false
    @OptionGroup var data: DataDirOptions

    static let maxCaseBytes = 48 * 1024

    static let systemPrompt = """
        You are an expert on the Moonshot AI (Kimi) API, which is OpenAI-compatible (chat completions, streaming \
        with server-sent events, tool calls, context caching, files, rate limits and quotas). A developer recorded \
        the following HTTP exchange with MoonPalace, a local debugging proxy. Diagnose it: say what happened, whether \
        the problem lies in the request, the client, the network or the API, the most likely cause, and concrete \
        fixes (parameters, code changes, limits to respect). If the exchange looks healthy, say so and point out \
        anything risky (truncation by max_tokens, repetition, wasted tokens). Be concise. Answer in the language of \
        the user's messages in the exchange.
        """

    func validate() throws {
        if id == nil && chatcmpl == nil && requestid == nil { throw ValidationError("give --id, --chatcmpl or --requestid") }
    }

    func run() async throws {
        try await IndexCLI.runAsync {
            let (index, _, config) = try IndexCLI.openWithConfig(data)
            let (s, ex) = try IndexCLI.select(index, id: id, chatcmpl: chatcmpl, requestID: requestid)
            let env = ProcessInfo.processInfo.environment
            let chosen = endpoint ?? config.endpoint ?? "cn"
            let isMock = chosen.lowercased() == "mock"
            var base = isMock ? "mock" : ProxyConfiguration.normalizeEndpoint(chosen)
            let request = Self.request(s, ex, model: model)
            if printPrompt {
                IndexCLI.out("POST \(base)/v1/chat/completions")
                IndexCLI.out(request.serialized(pretty: true, indent: 2))
                return
            }
            // The built-in mock takes any key (as `start --endpoint mock` does).
            let given = [key, config.start.key, env["MOONSHOT_API_KEY"]].compactMap { $0 }.first { !$0.isEmpty }
            guard let apiKey = given ?? (isMock ? "sk-mock" : nil) else {
                throw IndexError.invalidArgument("no API key: pass --key, set start.key in config.yaml, or export MOONSHOT_API_KEY")
            }
            if isMock {
                // Left running: the process ends right after (cancelling it makes Hummingbird log shutdown errors).
                let (_, port) = try await ReplayCommand.startMock()
                base = "http://127.0.0.1:\(port)"
            }
            let result = await HTTPCall.send(
                method: "POST", url: base + "/v1/chat/completions",
                headers: [HeaderField(name: "Content-Type", value: "application/json"),
                          HeaderField(name: "Authorization", value: "Bearer \(apiKey)")],
                body: request.serializedBytes(), idleTimeoutSeconds: 120)
            switch result {
            case .failure(let f):
                throw IndexError.invalidArgument("cannot reach \(base): \(f.message)")
            case .success(let reply):
                let value = try? JSONValue.parse(reply.body)
                guard reply.status == 200, let text = value?["choices"]?[0]?["message"]?["content"]?.stringValue else {
                    let why = value?["error"]?["message"]?.stringValue ?? String(decoding: reply.body.prefix(300), as: UTF8.self)
                    throw IndexError.invalidArgument("\(base) answered HTTP \(reply.status): \(why)")
                }
                IndexCLI.out(text)
            }
        }
    }

    /// The chat request: system prompt + the redacted case (bodies shortened to fit).
    static func request(_ s: ExchangeSummary, _ ex: LoadedExchange, model: String) -> JSONValue {
        var text = CaseExport.caseValue(s, ex, redactor: .standard, streamBody: .merged).serialized(pretty: true, indent: 2)
        if text.utf8.count > maxCaseBytes {
            text = shorten(CaseExport.caseValue(s, ex, redactor: .standard, streamBody: .merged)).serialized(pretty: true, indent: 2)
        }
        if text.utf8.count > maxCaseBytes {
            text = String(decoding: Array(text.utf8.prefix(maxCaseBytes)), as: UTF8.self) + "\n… (cut)"
        }
        let user = "Here is the exchange (JSON; secrets are masked, long texts shortened):\n\n```json\n\(text)\n```"
        return .object(JSONObject([
            ("model", .string(model)),
            ("messages", .array([
                .object(JSONObject([("role", "system"), ("content", .string(systemPrompt))])),
                .object(JSONObject([("role", "user"), ("content", .string(user))])),
            ])),
            ("temperature", .number("0.3")),
        ]))
    }

    /// Long strings cut to their first and last 1,000 characters.
    static func shorten(_ v: JSONValue) -> JSONValue {
        switch v {
        case .string(let s) where s.count > 2000:
            return .string(String(s.prefix(1000)) + " … [\(s.count - 2000) characters cut] … " + String(s.suffix(1000)))
        case .array(let xs): return .array(xs.map(shorten))
        case .object(let o): return .object(JSONObject(o.pairs.map { ($0.key, shorten($0.value)) }))
        default: return v
        }
    }
}
