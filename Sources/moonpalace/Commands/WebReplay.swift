import Foundation
import PalaceIndex
import PalaceLog
import PalaceProxy

/// The web admin's replay button: the same path as `moonpalace replay --id N` through a running proxy.
enum WebReplay {
    /// Sends `exchange` again through the `moonpalace start` serving `dir` (inside `start`, that is the proxy the
    /// admin is mounted in), so the new exchange is recorded with `replay_of`. Without a running proxy it explains
    /// how to get one: the temporary recording proxy `moonpalace replay` uses would stop this process's server.
    /// `config` is the configuration that applies to `dir` (`ConfigFile.locate`, as for `start` and `replay`: with
    /// `~/.moonpalace/config.yaml` moving the data by `data-dir`, that file, not `<data>/config.yaml`).
    static func send(_ exchange: LoadedExchange, dataDirectory dir: DataDirectory, config: ConfigFile) async throws -> Int64? {
        guard let proxy = RunningProxy.find(dataDirectory: dir.path) else {
            throw IndexError.invalidArgument("replay records the new exchange through the proxy that owns this data "
                + "directory's log, and none is running: start one ('moonpalace start --data-dir \(dir.path)') and use "
                + "its admin, or run 'moonpalace replay --id \(exchange.begin.exchangeID)'")
        }
        let key = config.start.key ?? ProcessInfo.processInfo.environment["MOONSHOT_API_KEY"]
        let request = ReplayRequest(originalID: exchange.begin.exchangeID, begin: exchange.begin,
                                    requestBody: exchange.requestBody, key: key)
        let outcome = try await ReplayRunner.send(request, via: proxy, logDirectory: dir.logDirectory)
        return outcome.exchangeID.map { Int64($0) }
    }
}
