import ArgumentParser
import Foundation
import PalaceLog

extension ConfigFile {
    /// Finds the data directory and its configuration. The config file is read from the directory named by
    /// `--data-dir`, else `$MOONPALACE_HOME`, else `~/.moonpalace`; only in that last case may its `data-dir` key move
    /// the data elsewhere (a flag or the environment beats the config). The returned config is the one read, so a
    /// redirect keeps the settings of `~/.moonpalace/config.yaml`.
    static func locate(explicit: String?, environment: [String: String]) throws(ConfigError) -> (directory: DataDirectory, config: ConfigFile) {
        let first = DataDirectory.resolve(explicit: explicit, environment: environment)
        let config = try load(path: first.configPath)
        let chosen = (explicit?.isEmpty == false) || (environment["MOONPALACE_HOME"]?.isEmpty == false)
        if !chosen, let redirect = config.dataDir, !redirect.isEmpty {
            return (DataDirectory.resolve(explicit: redirect, environment: environment), config)
        }
        return (first, config)
    }
}

extension DataDirOptions {
    /// The resolved data directory (created 0700 if missing) and the configuration that applies to it.
    func openWithConfig() throws -> (DataDirectory, ConfigFile) {
        let located: (directory: DataDirectory, config: ConfigFile)
        do { located = try ConfigFile.locate(explicit: dataDir, environment: ProcessInfo.processInfo.environment) } catch {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        do { try located.directory.create() } catch { throw ValidationError(error.description) }
        return (located.directory, located.config)
    }
}
