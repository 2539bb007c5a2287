#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ANSI styling for stderr: on only when stderr is a terminal and `NO_COLOR` is unset (MoonPalace's rule).
struct TerminalStyle: Sendable {
    let enabled: Bool

    static func forStderr(environment: [String: String]) -> TerminalStyle {
        let noColor = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        return TerminalStyle(enabled: !noColor && isatty(2) == 1)
    }

    func boldGreen(_ s: String) -> String { wrap(s, "1;32") }
    func boldYellow(_ s: String) -> String { wrap(s, "1;33") }
    func boldWhite(_ s: String) -> String { wrap(s, "1;37") }
    func boldRed(_ s: String) -> String { wrap(s, "1;31") }
    func green(_ s: String) -> String { wrap(s, "32") }
    func red(_ s: String) -> String { wrap(s, "31") }

    private func wrap(_ s: String, _ code: String) -> String {
        enabled ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s
    }
}
