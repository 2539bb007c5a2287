#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The moonpalace data directory and its layout: `<data>/log/` (segments), `<data>/index.sqlite`,
/// `<data>/config.yaml`, `<data>/server_error.log`. The one place that decides where data lives; every command goes through it.
///
/// Resolution order: an explicit path (`--data-dir`), then `MOONPALACE_HOME`, then `~/.moonpalace`.
/// The directory is private: created with mode 0700.
public struct DataDirectory: Sendable, Equatable {
    public let path: String

    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// Resolves the data directory without touching the file system.
    public static func resolve(explicit: String?, environment: [String: String]) -> DataDirectory {
        if let explicit, !explicit.isEmpty { return DataDirectory(path: expandTilde(explicit, environment)) }
        if let home = environment["MOONPALACE_HOME"], !home.isEmpty {
            return DataDirectory(path: expandTilde(home, environment))
        }
        let userHome = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "/root"
        return DataDirectory(path: userHome + "/.moonpalace")
    }

    public var logDirectory: String { path + "/log" }
    public var indexPath: String { path + "/index.sqlite" }
    /// MoonPalace's `server_error.log`: the proxy's HTTP server errors (not exchanges — those are in the log).
    public var serverErrorLogPath: String { path + "/server_error.log" }
    /// `config.yaml`, or MoonPalace's alternative spelling `config.yml` when only that one exists.
    public var configPath: String {
        let yaml = path + "/config.yaml", yml = path + "/config.yml"
        if access(yaml, F_OK) != 0 && access(yml, F_OK) == 0 { return yml }
        return yaml
    }

    /// Creates the directory (and `log/`) if missing, private to the user (0700).
    /// Throws a message a person can act on when the path is a file or cannot be created.
    public func create() throws(DataDirectoryError) {
        try Self.makePrivateDirectory(path)
        try Self.makePrivateDirectory(logDirectory)
    }

    static func makePrivateDirectory(_ dir: String) throws(DataDirectoryError) {
        var st = stat()
        if stat(dir, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else { throw .notADirectory(dir) }
            return
        }
        // Create parents first (like mkdir -p); only the leaf levels we create get 0700.
        if let slash = dir.lastIndex(of: "/"), slash != dir.startIndex {
            let parent = String(dir[..<slash])
            if stat(parent, &st) != 0 { try makePrivateDirectory(parent) }
        }
        if mkdir(dir, 0o700) != 0 && errno != EEXIST {
            throw .cannotCreate(dir, String(cString: strerror(errno)))
        }
        _ = chmod(dir, 0o700)
    }

    private static func expandTilde(_ p: String, _ env: [String: String]) -> String {
        guard p == "~" || p.hasPrefix("~/") else { return p }
        return (env["HOME"] ?? "") + p.dropFirst()
    }
}

public enum DataDirectoryError: Error, CustomStringConvertible, Equatable {
    case notADirectory(String)
    case cannotCreate(String, String)

    public var description: String {
        switch self {
        case .notADirectory(let p): return "data directory \(p) exists but is not a directory"
        case .cannotCreate(let p, let why): return "cannot create data directory \(p): \(why)"
        }
    }
}
