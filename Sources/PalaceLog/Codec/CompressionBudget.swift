import Synchronization

/// How many payload bytes per second a writer may compress with LZ4HC (`LZ4Codec.highLevel`) instead of LZ4 fast.
/// HC stores log records 15–20 % smaller but costs about 5× the CPU; within the budget (far above what a proxy
/// normally logs) every record gets HC, and a burst beyond it (a benchmark, a replay) falls back to the fast
/// compressor so appends never slow down by more than the budget's CPU (a few % of a core at the default 2 MiB/s).
/// A token bucket: `bytesPerSecond` tokens a second, holding at most one second's worth. Thread-safe.
final class CompressionBudget: Sendable {
    private struct State { var tokens: Double; var last: UInt64 }
    private let rate: Double
    private let state: Mutex<State>

    init(bytesPerSecond: Int) {
        rate = Double(max(0, bytesPerSecond))
        state = Mutex(State(tokens: rate, last: Posix.monotonicNanos()))
    }

    /// Whether a payload of `bytes` may use LZ4HC; takes its tokens when it may.
    func takeHigh(_ bytes: Int) -> Bool {
        guard rate > 0, bytes >= LZ4Codec.highMinBytes else { return false }
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
