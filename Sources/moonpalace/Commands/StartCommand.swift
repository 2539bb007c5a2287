import ArgumentParser
import Foundation
import PalaceIndex
import PalaceLog
import PalaceMock
import PalaceProxy

/// `moonpalace start` — the capture proxy. Flags beat config.yaml (`start:` keys) beat built-in defaults.
struct StartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start the MoonPalace proxy server",
        discussion: """
            Forwards every request (any method, path and query) to the endpoint, streams answers back event by \
            event, and records each exchange in the data directory's log. Point an OpenAI-compatible SDK's \
            base_url at the printed URL. A browser's GET / shows a short page; every API path is forwarded.
            Stops gracefully on SIGINT/SIGTERM: in-flight exchanges finish, the log is synced.
            """
    )

    @Option(name: [.short, .long], help: ArgumentHelp("Port to listen on, 0-65535; 0 = any free port (default: 9988).", valueName: "PORT"))
    var port: UInt16?

    // No default is ever shown for the key (MoonPalace printed config keys in --help).
    @Option(name: [.short, .long], help: ArgumentHelp("API key sent upstream as 'Authorization: Bearer KEY' on every request.", valueName: "KEY"))
    var key: String?

    @Option(help: ArgumentHelp("Interface to listen on (default: 127.0.0.1).", valueName: "HOST"))
    var host: String?

    @Option(help: ArgumentHelp("Upstream: cn (https://api.moonshot.cn, default), global (https://api.moonshot.ai), mock (the built-in mock server), or a URL.", valueName: "ENDPOINT"))
    var endpoint: String?

    @OptionGroup var data: DataDirOptions

    @Option(help: ArgumentHelp("When the log is fsynced: always, batch (group commit ≤ 100 ms, default) or none.", valueName: "POLICY"))
    var sync: String?

    @Option(help: ArgumentHelp("Abort an upstream call after this many seconds without a byte (default: 300; no cap on total duration).", valueName: "SECONDS"))
    var upstreamIdleTimeout: Int?

    func run() async throws {
        let dir = try data.open()
        if let hint = MoonPalaceImport.hint(dataDirectory: dir.path) { FileHandle.standardError.write(Data("moonpalace: \(hint)\n".utf8)) }
        let config: ConfigFile
        do { config = try ConfigFile.load(path: dir.configPath) } catch { throw failure(error.description) }
        let env = ProcessInfo.processInfo.environment

        let policyName = sync ?? config.start.sync ?? "batch"
        guard let policy = SyncPolicy(rawValue: policyName) else {
            throw failure("--sync must be always, batch or none (got '\(policyName)')")
        }
        let idle = upstreamIdleTimeout ?? config.start.upstreamIdleTimeout ?? 300
        guard idle > 0 else { throw failure("--upstream-idle-timeout must be at least 1 second (got \(idle))") }
        let portValue = port.map(Int.init) ?? config.start.port ?? 9988
        guard (0...65535).contains(portValue) else { throw failure("the port must be 0-65535 (got \(portValue))") }
        let endpointName = endpoint ?? config.endpoint ?? "cn"

        var mockTask: Task<Void, Never>?
        var upstream = endpointName
        if endpointName.lowercased() == "mock" {
            let (task, port) = try await startMock()
            mockTask = task
            upstream = "http://127.0.0.1:\(port)"
        }
        defer { mockTask?.cancel() }

        let proxyConfig = ProxyConfiguration(
            host: host ?? config.start.host ?? "127.0.0.1", port: portValue, endpoint: upstream,
            key: key ?? config.start.key, idleTimeoutSeconds: idle, logDirectory: dir.logDirectory,
            syncPolicy: policy, controlToken: RunningProxy.newToken())
        let server: ProxyServer
        do { server = try ProxyServer(config: proxyConfig, environment: env) } catch {
            throw failure("cannot start the proxy: \(error)")
        }
        let bannerHost = proxyConfig.host == "0.0.0.0" || proxyConfig.host == "::" ? "127.0.0.1" : proxyConfig.host
        do {
            defer { RunningProxy.remove(dataDirectory: dir.path) }
            try await server.run { port in
                try? RunningProxy(pid: getpid(), host: proxyConfig.host, port: port, endpoint: proxyConfig.endpoint,
                                  token: proxyConfig.controlToken ?? "").write(dataDirectory: dir.path)
                server.banner("MoonPalace Starts => change base_url to \"http://\(bannerHost):\(port)/v1\"")
            }
        } catch {
            throw failure("the proxy stopped: \(error)")
        }
    }

    /// Runs PalaceMock in-process on an ephemeral port; returns its task and port.
    private func startMock() async throws -> (Task<Void, Never>, Int) {
        var options = MockOptions()
        options.port = 0
        let server = MockServer(options: options)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let task = Task {
            do { try await server.run(handleSignals: false) { port in continuation.yield(port) } } catch {
                FileHandle.standardError.write(Data("error: the built-in mock server stopped: \(error)\n".utf8))
            }
            continuation.finish()
        }
        for await port in ports { return (task, port) }
        throw failure("the built-in mock server did not start")
    }

    private func failure(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode(2)
    }
}
