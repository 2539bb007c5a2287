import ArgumentParser
import Foundation
import PalaceLog

/// `--data-dir`, accepted by every command that touches data.
struct DataDirOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: ArgumentHelp(
        "Data directory (default: $MOONPALACE_HOME or ~/.moonpalace).", valueName: "DIR"))
    var dataDir: String?

    /// The resolved data directory, created (0700) if missing.
    func open() throws -> DataDirectory {
        let dir = DataDirectory.resolve(explicit: dataDir, environment: ProcessInfo.processInfo.environment)
        do { try dir.create() } catch { throw ValidationError(error.description) }
        return dir
    }
}
