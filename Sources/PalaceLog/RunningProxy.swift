#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The "a proxy serves this data directory" marker: `<data>/proxy.json`, written by `moonpalace start` once it
/// listens and removed when it exits. Other commands (replay, export --good/--bad, the web admin) use it to send
/// through the running proxy, which owns the log's writer lock.
///
/// Invariants: the file is private (0600 inside the 0700 data directory) because it carries the control token
/// that lets a local command write annotations and replay links through the proxy; it is written to a temporary
/// name and renamed, so a reader never sees half a file; a file whose pid is dead (kill -9) is stale and ignored.
public struct RunningProxy: Sendable, Equatable {
    public var pid: Int32
    public var host: String
    public var port: Int
    /// Upstream base URL the proxy forwards to.
    public var endpoint: String
    /// Shared secret for the proxy's control requests (`X-MoonPalace-Control`).
    public var token: String

    public init(pid: Int32, host: String, port: Int, endpoint: String, token: String) {
        self.pid = pid; self.host = host; self.port = port; self.endpoint = endpoint; self.token = token
    }

    public static let fileName = "proxy.json"

    public static func path(dataDirectory: String) -> String { dataDirectory + "/" + fileName }

    /// Base URL to reach the proxy from this machine (a wildcard bind is reached on loopback).
    public var baseURL: String {
        let h = host == "0.0.0.0" || host.isEmpty ? "127.0.0.1" : host == "::" ? "[::1]" : host.contains(":") ? "[\(host)]" : host
        return "http://\(h):\(port)"
    }

    /// A fresh random control token (32 hex characters).
    public static func newToken() -> String {
        // SystemRandomNumberGenerator reads the kernel's CSPRNG (getrandom) on Linux.
        var g = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        return bytes.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined()
    }

    /// Writes the marker for the current process (temp file + rename, mode 0600).
    public func write(dataDirectory: String) throws(LogError) {
        let target = Self.path(dataDirectory: dataDirectory)
        let temp = target + ".tmp\(getpid())"
        let text = "{\"pid\":\(pid),\"host\":\(Self.quote(host)),\"port\":\(port),\"endpoint\":\(Self.quote(endpoint)),"
            + "\"token\":\(Self.quote(token))}\n"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(operation: "create", path: temp, errno: errno) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let e = errno
        close(fd)
        guard n == bytes.count else { unlink(temp); throw .io(operation: "write", path: temp, errno: e) }
        guard rename(temp, target) == 0 else { let e = errno; unlink(temp); throw .io(operation: "rename", path: target, errno: e) }
    }

    /// Removes the marker if it is this process's own (another proxy may have replaced it).
    public static func remove(dataDirectory: String, pid: Int32 = getpid()) {
        let p = path(dataDirectory: dataDirectory)
        if let current = read(path: p), current.pid != pid { return }
        unlink(p)
    }

    /// The proxy serving `dataDirectory`, or nil when there is none (no file, unreadable, or its pid is dead).
    public static func find(dataDirectory: String) -> RunningProxy? {
        guard let found = read(path: path(dataDirectory: dataDirectory)) else { return nil }
        guard found.pid > 0, kill(found.pid, 0) == 0 || errno == EPERM else { return nil }
        return found
    }

    static func read(path: String) -> RunningProxy? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let text = String(decoding: buf[0..<n], as: UTF8.self)
        guard let pid = field(text, "pid").flatMap({ Int32($0) }), let host = field(text, "host"),
              let port = field(text, "port").flatMap({ Int($0) }), let token = field(text, "token") else { return nil }
        return RunningProxy(pid: pid, host: host, port: port, endpoint: field(text, "endpoint") ?? "", token: token)
    }

    /// The value of `"name":` in the flat one-line object this type writes (strings unquoted, numbers as text).
    static func field(_ text: String, _ name: String) -> String? {
        let needle = Array("\"\(name)\":")
        let chars = Array(text)
        guard chars.count >= needle.count,
              let at = (0...(chars.count - needle.count)).first(where: { Array(chars[$0..<($0 + needle.count)]) == needle })
        else { return nil }
        var rest = Substring(String(chars[(at + needle.count)...])).drop(while: { $0 == " " })
        if rest.first == "\"" {
            rest = rest.dropFirst()
            var out = ""
            var escaped = false
            for c in rest {
                if escaped { out.append(c); escaped = false; continue }
                if c == "\\" { escaped = true; continue }
                if c == "\"" { return out }
                out.append(c)
            }
            return nil
        }
        return String(rest.prefix(while: { $0 != "," && $0 != "}" && $0 != "\n" }))
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: if c.value < 0x20 { out += " " } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }
}
