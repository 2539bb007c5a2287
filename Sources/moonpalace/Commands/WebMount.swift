import ArgumentParser
import Foundation
import PalaceLog
import PalaceProxy
import PalaceWeb

/// `start`'s web-admin flags.
struct WebMountOptions: ParsableArguments {
    @Option(name: .customLong("web-token"), help: ArgumentHelp(
        "Token for the web admin at /palace/ (required when --host is not loopback; default: $MOONPALACE_WEB_TOKEN).",
        valueName: "TOKEN"))
    var webToken: String?

    @Flag(name: .customLong("no-web"), help: "Do not serve the web admin at /palace/ (every path is then forwarded).")
    var noWeb = false
}

/// Mounts the web admin into the proxy's server (`start`): its annotations go through the proxy's log writer.
enum WebMount {
    /// Nil (with a notice on stderr) when the admin is off or cannot be served; the proxy runs regardless.
    static func make(_ flags: WebMountOptions, dataDirectory: DataDirectory, config: ConfigFile, host: String,
                     server: ProxyServer) -> ProxyMount? {
        if flags.noWeb { return nil }
        let token = flags.webToken ?? ProcessInfo.processInfo.environment["MOONPALACE_WEB_TOKEN"]
        var mounted = WebOptions(token: token, host: host)
        mounted.indexKeptCurrent = true   // `start` runs the index tailer beside the proxy
        let options = mounted
        let actions = WebActions(
            annotate: { annotation in try await server.appendAnnotation(annotation) },
            replay: { exchange in try await WebReplay.send(exchange, dataDirectory: dataDirectory, config: config) })
        let app: PalaceWebApp
        do { app = try PalaceWebApp(dataDirectory: dataDirectory, options: options, actions: actions, notice: WebCLI.note) } catch {
            WebCLI.note("web admin off: \(error)")
            return nil
        }
        app.start()
        let shownHost = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
        return ProxyMount(prefix: options.prefix,
                          respond: { request, context in await app.respond(to: request, context: context) },
                          onRunning: { port in
                              WebCLI.err(WebCLI.banner(host: shownHost, port: port, prefix: options.prefix, token: options.token))
                          })
    }
}
