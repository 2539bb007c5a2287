import PalaceLog

/// The periodic retention pass `moonpalace start` runs beside the proxy (`--retention-max-age/-size`,
/// config `start.retention`): whole sealed segments are dropped oldest first by `LogRetention`; the active segment
/// is never touched, so the writer and exchange ids are unaffected.
///
/// Invariants: a failed pass is reported on stderr and retried at the next interval — it never stops the proxy.
/// Runs once at start, then every `intervalSeconds` (default: a tenth of the age limit, between 1 s and 10 min).
public enum LogRetentionTask {
    public static func run(server: ProxyServer, policy: LogRetention.Policy, intervalSeconds: Double? = nil) async {
        let interval = intervalSeconds ?? min(600, max(1, (policy.maxAge ?? 6000) / 10))
        let log = server.context.log
        let directory = server.context.config.logDirectory
        while !Task.isCancelled {
            do {
                let removed = try LogRetention.apply(directory: directory, policy: policy)
                if !removed.isEmpty {
                    log.log("retention: removed \(removed.count) old log segment\(removed.count == 1 ? "" : "s") "
                        + "(\(describe(policy))); their exchanges are gone from list/inspect once the index catches up")
                }
            } catch {
                log.log(log.style.boldRed("retention pass failed (will retry): \(error)"))
            }
            try? await Task.sleep(for: .seconds(interval))
        }
    }

    static func describe(_ policy: LogRetention.Policy) -> String {
        var parts: [String] = []
        if let age = policy.maxAge { parts.append("older than \(Int(age)) s") }
        if let size = policy.maxTotalBytes { parts.append("log over \(size) bytes") }
        return parts.joined(separator: ", ")
    }
}
