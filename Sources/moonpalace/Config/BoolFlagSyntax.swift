/// MoonPalace's boolean-flag spellings for `start`, rewritten to ours before the command line is parsed.
///
/// MoonPalace (Go, cobra/pflag) takes `--detect-repeat`, `--detect-repeat=false`, `--force-stream=true`, … —
/// and since its detection was on by default (reference §2.2), `--detect-repeat=false` is what its users wrote.
/// ArgumentParser only knows `--flag` / `--no-flag`, so `--flag=VALUE` (and Go's single-dash `-flag[=VALUE]`) is
/// turned into one of those; VALUE is what Go's `strconv.ParseBool` accepts (1 t T TRUE true True, 0 f F FALSE
/// false False). Flags still beat config.yaml, which beats the defaults: the rewrite only changes spelling, and the
/// last spelling given wins, as in Go.
///
/// Only `start`'s arguments are touched, and nothing after a `--`.
enum BoolFlagSyntax {
    /// The boolean flags of `start` that accept a value.
    static let flags: Set<String> = ["force-stream", "detect-repeat", "auto-cache"]

    static let trueWords: Set<String> = ["1", "t", "T", "TRUE", "true", "True"]
    static let falseWords: Set<String> = ["0", "f", "F", "FALSE", "false", "False"]

    struct InvalidValue: Error, CustomStringConvertible {
        let flag: String
        let value: String
        var description: String {
            "invalid value '\(value)' for '--\(flag)': use --\(flag), --\(flag)=true or --\(flag)=false "
                + "(or --no-\(flag))"
        }
    }

    /// `arguments` without the program name. Returns them with `start`'s `--flag=VALUE` spellings rewritten.
    static func rewrite(_ arguments: [String]) throws(InvalidValue) -> [String] {
        guard let command = arguments.firstIndex(where: { !$0.hasPrefix("-") }), arguments[command] == "start" else {
            return arguments
        }
        var out = Array(arguments[...command])
        var rest = arguments[(command + 1)...]
        while let argument = rest.popFirst() {
            if argument == "--" {
                out.append(argument)
                out.append(contentsOf: rest)
                break
            }
            out.append(try rewriteOne(argument))
        }
        return out
    }

    private static func rewriteOne(_ argument: String) throws(InvalidValue) -> String {
        var body = Substring(argument)
        if body.hasPrefix("--") { body = body.dropFirst(2) } else if body.hasPrefix("-") { body = body.dropFirst() } else {
            return argument
        }
        let parts = body.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        guard flags.contains(name) else { return argument }
        guard parts.count == 2 else { return "--" + name }   // `-force-stream` → `--force-stream`
        let value = String(parts[1])
        if trueWords.contains(value) { return "--" + name }
        if falseWords.contains(value) { return "--no-" + name }
        throw InvalidValue(flag: name, value: value)
    }
}
