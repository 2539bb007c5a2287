import Foundation
import Yams

/// `config.yaml` (or `config.yml`) in the data directory: MoonPalace's keys plus ours.
///
/// Precedence is decided by the commands: an explicit flag beats a config value, which beats the built-in default.
/// Unknown keys and values of the wrong type are errors naming the file and line, so a typo never silently
/// changes nothing. Secrets read from here (`start.key`) are never shown in `--help`.
///
/// ```yaml
/// endpoint: cn | global | mock | URL
/// data-dir: DIR
/// start:
///   port: 9988
///   host: 127.0.0.1
///   key: sk-...
///   detect-repeat: {threshold: 0.5, min-length: 100}   # a mapping (even {}) turns detection on
///   force-stream: true
///   auto-cache: {min-bytes: 4096, ttl: 60, cleanup: 86400}  # a mapping (even {}) turns caching on
///   sync: always | batch | none
///   upstream-idle-timeout: 300
///   retention: {max-age: 30d, max-size: 10GiB}           # drop whole old log segments (off by default)
/// ```
///
/// Values are checked here (ranges, units), so a wrong value is reported with its line, like a wrong key.
struct ConfigFile: Sendable, Equatable {
    var endpoint: String?
    var dataDir: String?
    var start = Start()

    struct Start: Sendable, Equatable {
        var port: Int?
        var host: String?
        var key: String?
        var detectRepeat: Bool?
        var repeatThreshold: Double?
        var repeatMinLength: Int?
        var forceStream: Bool?
        var autoCache: Bool?
        var cacheMinBytes: Int?
        var cacheTTL: Int?
        var cacheCleanup: Int?
        var sync: String?
        var upstreamIdleTimeout: Int?
        /// Seconds; from `retention.max-age` (`30d`, `12h`, …).
        var retentionMaxAge: Double?
        /// Bytes; from `retention.max-size` (`10GiB`, …).
        var retentionMaxSize: UInt64?
    }

    /// Reads the file at `path`; a missing file is an empty configuration.
    static func load(path: String) throws(ConfigError) -> ConfigFile {
        guard FileManager.default.fileExists(atPath: path) else { return ConfigFile() }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, line: nil, message: "cannot read the file (is it UTF-8 text?)")
        }
        return try parse(text, file: path)
    }

    static func parse(_ text: String, file: String) throws(ConfigError) -> ConfigFile {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch let error as YamlError {
            throw ConfigError(file: file, line: Self.line(of: error), message: "invalid YAML: \(Self.problem(of: error))")
        } catch {
            throw ConfigError(file: file, line: nil, message: "invalid YAML: \(error)")
        }
        var config = ConfigFile()
        guard let root, !Self.isNull(root) else { return config }
        let reader = NodeReader(file: file)
        for (key, value) in try reader.mapping(root, context: "the top level") {
            switch key.string {
            case "endpoint": config.endpoint = try reader.string(value, key: "endpoint")
            case "data-dir": config.dataDir = try reader.string(value, key: "data-dir")
            case "start": config.start = try parseStart(value, reader: reader)
            default: throw reader.unknown(key, context: "the top level", known: ["endpoint", "data-dir", "start"])
            }
        }
        return config
    }

    private static func parseStart(_ node: Node, reader: NodeReader) throws(ConfigError) -> Start {
        var s = Start()
        if isNull(node) { return s }
        let known = ["port", "host", "key", "detect-repeat", "force-stream", "auto-cache", "sync",
                     "upstream-idle-timeout", "retention"]
        for (key, value) in try reader.mapping(node, context: "start") {
            switch key.string {
            case "port": s.port = try reader.int(value, key: "start.port", in: 0...65535)
            case "host": s.host = try reader.string(value, key: "start.host")
            case "key": s.key = try reader.string(value, key: "start.key")
            case "force-stream": s.forceStream = try reader.bool(value, key: "start.force-stream")
            case "sync":
                let v = try reader.string(value, key: "start.sync")
                guard ["always", "batch", "none"].contains(v) else {
                    throw reader.fail(value, "'start.sync' must be always, batch or none, got '\(v)'")
                }
                s.sync = v
            case "upstream-idle-timeout":
                s.upstreamIdleTimeout = try reader.int(value, key: "start.upstream-idle-timeout", in: 1...Int(Int32.max))
            case "retention":
                if isNull(value) { break }
                for (k, v) in try reader.mapping(value, context: "start.retention") {
                    switch k.string {
                    case "max-age":
                        let text = try reader.string(v, key: "start.retention.max-age")
                        guard let secs = Quantity.seconds(text) else {
                            throw reader.fail(v, "'start.retention.max-age' must be a duration such as 30d, 12h or 90m, got '\(text)'")
                        }
                        s.retentionMaxAge = secs
                    case "max-size":
                        let text = try reader.string(v, key: "start.retention.max-size")
                        guard let bytes = Quantity.bytes(text) else {
                            throw reader.fail(v, "'start.retention.max-size' must be a size such as 10GiB or 500MB, got '\(text)'")
                        }
                        s.retentionMaxSize = bytes
                    default: throw reader.unknown(k, context: "start.retention", known: ["max-age", "max-size"])
                    }
                }
            case "detect-repeat":
                if isNull(value) { break }
                if value.scalar != nil { s.detectRepeat = try reader.bool(value, key: "start.detect-repeat"); break }
                s.detectRepeat = true
                for (k, v) in try reader.mapping(value, context: "start.detect-repeat") {
                    switch k.string {
                    case "threshold": s.repeatThreshold = try reader.double(v, key: "start.detect-repeat.threshold", in: 0...1)
                    case "min-length": s.repeatMinLength = try reader.int(v, key: "start.detect-repeat.min-length", in: 0...Int(Int32.max))
                    default: throw reader.unknown(k, context: "start.detect-repeat", known: ["threshold", "min-length"])
                    }
                }
            case "auto-cache":
                if isNull(value) { break }
                if value.scalar != nil { s.autoCache = try reader.bool(value, key: "start.auto-cache"); break }
                s.autoCache = true
                for (k, v) in try reader.mapping(value, context: "start.auto-cache") {
                    switch k.string {
                    case "min-bytes": s.cacheMinBytes = try reader.int(v, key: "start.auto-cache.min-bytes", in: 0...Int(Int32.max))
                    case "ttl": s.cacheTTL = try reader.int(v, key: "start.auto-cache.ttl", in: 1...Int(Int32.max))
                    case "cleanup": s.cacheCleanup = try reader.int(v, key: "start.auto-cache.cleanup", in: 1...Int(Int32.max))
                    default: throw reader.unknown(k, context: "start.auto-cache", known: ["min-bytes", "ttl", "cleanup"])
                    }
                }
            default: throw reader.unknown(key, context: "start", known: known)
            }
        }
        return s
    }

    static func isNull(_ node: Node) -> Bool {
        guard let s = node.scalar else { return false }
        return s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _): return problem
        default: return "\(error)"
        }
    }
}

/// A configuration problem, printed as `FILE:LINE: message`.
struct ConfigError: Error, CustomStringConvertible, Equatable {
    var file: String
    var line: Int?
    var message: String
    var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}
