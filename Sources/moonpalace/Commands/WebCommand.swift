import ArgumentParser
import Foundation
import PalaceLog
import PalaceWeb

/// `moonpalace web` — the web admin of a data directory without the proxy (the proxy serves the same pages at
/// /palace/ while `start` runs).
struct WebCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web",
        abstract: "Browse, search, mark and export recorded exchanges in a web browser",
        discussion: """
            Serves http://HOST:PORT/palace/: the exchanges newest first with live arrival, the predicate language \
            of 'list -p', full-text search, one exchange's conversation, stream timeline and raw request/response, \
            stats charts, good/bad marks and tags (written to the log as annotations, as 'export --good/--bad \
            --tag' does), downloads (case JSON, curl, HAR/JSONL of a filter) and replay (through the running \
            'moonpalace start'). 'moonpalace start' serves the same pages on the proxy's port.
            On a host other than 127.0.0.1/localhost a token is required (--web-token): open \
            /palace/?token=TOKEN once; an HttpOnly cookie keeps it.
            """
    )

    @Option(help: ArgumentHelp("Interface to listen on (default: 127.0.0.1).", valueName: "HOST"))
    var host: String = "127.0.0.1"

    @Option(name: [.short, .long], help: ArgumentHelp("Port to listen on, 0-65535; 0 = any free port.", valueName: "PORT"))
    var port: Int = 9990

    @Option(name: .customLong("web-token"), help: ArgumentHelp(
        "Access token (required on a non-loopback host; default: $MOONPALACE_WEB_TOKEN).", valueName: "TOKEN"))
    var webToken: String?

    @OptionGroup var data: DataDirOptions

    func run() async throws {
        guard (0...65535).contains(port) else { throw ValidationError("the port must be 0-65535 (got \(port))") }
        let (dir, config) = try data.openWithConfig()
        let token = webToken ?? ProcessInfo.processInfo.environment["MOONPALACE_WEB_TOKEN"]
        let options = WebOptions(token: token, host: host)
        // Marks go straight to the log when it is free, else through the running proxy's control channel (the
        // same path as `export --good/--bad --tag`); replay goes through the running proxy.
        let actions = WebActions(
            annotate: { annotation in try await AnnotationSink.append(annotation, dataDirectory: dir) },
            replay: { exchange in try await WebReplay.send(exchange, dataDirectory: dir, config: config) })
        let app: PalaceWebApp
        do { app = try PalaceWebApp(dataDirectory: dir, options: options, actions: actions, notice: WebCLI.note) } catch {
            WebCLI.err("error: \(error)\n")
            throw ExitCode(2)
        }
        let shownHost = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
        do {
            try await app.run(port: port) { port in
                WebCLI.err(WebCLI.banner(host: shownHost, port: port, prefix: options.prefix, token: options.token))
            }
        } catch {
            WebCLI.err("error: the web admin stopped: \(error)\n")
            throw ExitCode(2)
        }
    }
}

/// Output helpers shared by `web` and the admin mounted into `start`.
enum WebCLI {
    static func err(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
    static func note(_ s: String) { err("moonpalace: \(s)\n") }

    /// The line that tells where the admin is (with the token, once: it is the user's own terminal).
    static func banner(host: String, port: Int, prefix: String, token: String?) -> String {
        let h = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let url = "http://\(h):\(port)\(prefix)/" + (token.map { "?token=\($0)" } ?? "")
        return "MoonPalace web admin => \(url)\n"
    }
}
