import Synchronization

/// Tracks capture (log write) failures so they are loud but never fatal.
///
/// Invariants: the first failure of each kind is announced once on stderr (with what to do about it); every later
/// one only bumps that kind's running count, which each affected exchange's log block shows. The first success
/// after failures announces that capture resumed, with the number of records lost meanwhile.
public final class CaptureHealth: Sendable {
    struct State {
        var counts: [String: Int] = [:]
        var failingSinceLastSuccess = 0
        var totalFailures = 0
    }
    private let state = Mutex(State())
    private let announce: @Sendable (String) -> Void

    /// `announce` prints one loud line (stderr in the proxy, a collector in tests).
    public init(announce: @escaping @Sendable (String) -> Void) {
        self.announce = announce
    }

    /// Records a failed write of `record` ("begin", "chunk", "end") and returns the warning for the log block.
    @discardableResult
    public func failed(record: String, error: any Error) -> String {
        let kind = "\(record): \(Self.kind(of: error))"
        let (count, first) = state.withLock { s -> (Int, Bool) in
            s.counts[kind, default: 0] += 1
            s.failingSinceLastSuccess += 1
            s.totalFailures += 1
            return (s.counts[kind]!, s.counts[kind] == 1)
        }
        if first {
            announce("CAPTURE FAILING: cannot write the \(record) record: \(error). Calls are still forwarded, "
                + "but exchanges are not being recorded; free space or fix the data directory and capture resumes by itself.")
        }
        return "capture failing: \(kind) (\(count) failure\(count == 1 ? "" : "s") so far)"
    }

    /// Records a successful write; announces recovery after failures.
    public func succeeded() {
        let lost = state.withLock { s -> Int in
            defer { s.failingSinceLastSuccess = 0 }
            return s.failingSinceLastSuccess
        }
        if lost > 0 { announce("capture resumed (\(lost) record write\(lost == 1 ? "" : "s") failed meanwhile)") }
    }

    /// Failures so far, by kind.
    public var counts: [String: Int] { state.withLock { $0.counts } }

    /// Whether the last write failed (shown in every log block while true).
    public var isFailing: Bool { state.withLock { $0.failingSinceLastSuccess > 0 } }

    /// A failure's kind: its description without numbers, so "disk full at offset 123" and "… 456" count together.
    static func kind(of error: any Error) -> String {
        let text = String(describing: error)
        var out = ""
        var lastWasDigit = false
        for ch in text.prefix(160) {
            if ch.isNumber { if !lastWasDigit { out.append("#") }; lastWasDigit = true } else { out.append(ch); lastWasDigit = false }
        }
        return out
    }
}
