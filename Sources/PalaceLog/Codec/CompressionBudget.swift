import Synchronization

/// How many payload bytes per second a writer may compress with LZ4HC (`LZ4Codec.highLevel`) instead of LZ4 fast.
/// HC stores log records 15–20 % smaller but costs about 5× the CPU; within the budget every record of at least
/// `minBytes` gets HC, and a burst beyond it (a benchmark, a replay) falls back to the fast compressor so appends
/// never slow down by more than the budget's CPU (a few % of a core at the default 2 MiB/s).
///
/// Smaller records are always fast: the proxy compresses on its event loop while the exchange waits (the begin record
/// before the upstream call, the end record before the response's last byte). Measured on a 2 KB chat exchange
/// (perf, one request at a time): HC took 11.4 % of the event loop's CPU, ~30 µs an exchange, fast 2.8 %; the log
/// grew from 685 to 778 KiB per 1,000 exchanges (budget 800). A large record's HC saves many bytes and its exchange
/// is dominated by moving its body anyway.
/// A token bucket: `bytesPerSecond` tokens a second, holding at most one second's worth. Thread-safe.
final class CompressionBudget: Sendable {
    /// Payloads smaller than this are always compressed with LZ4 fast.
    static let minBytes = 16 << 10
    private struct State { var tokens: Double; var last: UInt64 }
    private let rate: Double
    private let state: Mutex<State>

    init(bytesPerSecond: Int) {
        rate = Double(max(0, bytesPerSecond))
        state = Mutex(State(tokens: rate, last: Posix.monotonicNanos()))
    }

    /// Whether a payload of `bytes` may use LZ4HC; takes its tokens when it may.
    func takeHigh(_ bytes: Int) -> Bool {
        guard rate > 0, bytes >= Self.minBytes else { return false }
        let now = Posix.monotonicNanos()
        return state.withLock { s in
            s.tokens = min(rate, s.tokens + Double(now &- s.last) / 1e9 * rate)
            s.last = now
            guard s.tokens >= Double(bytes) else { return false }
            s.tokens -= Double(bytes)
            return true
        }
    }
}
