import ArgumentParser
import Foundation
import PalaceLog

/// `--data-dir`, accepted by every command that touches data.
struct DataDirOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: ArgumentHelp(
        "Data directory (default: $MOONPALACE_HOME or ~/.moonpalace).", valueName: "DIR"))
    var dataDir: String?

    /// The resolved data directory, created (0700) if missing (config.yaml's `data-dir` applies: Config/).
    func open() throws -> DataDirectory {
        try openWithConfig().0
    }
}
