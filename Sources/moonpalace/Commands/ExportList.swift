import ArgumentParser
import PalaceIndex
import PalaceLog

/// `list --export DIR` (MoonPalace's batch export, reference §12.3): one case file per matching exchange in an
/// existing directory, stream bodies as their merged completion, no row limit unless `-n` is given, existing files
/// overwritten (as MoonPalace did), `export to <file> successfully` logged per file. Secrets are masked.
enum ExportList {
    static func run(index: ExchangeIndex, query: ListQuery, directory: String, escapeHTML: Bool) throws {
        try ExportCommand.requireDirectory(directory, create: false)
        let export = BatchExport(index: index, query: query, format: .json, redactor: .standard, version: MoonPalace.version)
        try ExportCommand.writeDirectory(export, directory: directory, force: true, escapeHTML: escapeHTML, progress: nil,
                                         streamBody: .merged, announce: true)
    }

    /// Whether `-n`/`--n`/`--limit` was on the command line (MoonPalace: with --export and no -n, no limit).
    static func limitGiven() -> Bool {
        CommandLine.arguments.dropFirst().contains { a in
            a == "-n" || a == "--n" || a == "--limit" || a.hasPrefix("--n=") || a.hasPrefix("--limit=")
                || (a.hasPrefix("-n") && a.count > 2 && !a.hasPrefix("--"))
        }
    }
}

/// What `inspect` adds to its metadata from the begin record's meta: a replay's `replay_of`, and for an imported
/// MoonPalace row its own `moonpalace_id` and `requested_at` (ours then shows as `id`) and `imported_from`.
enum ExportMeta {
    static func merge(_ m: [(String, String)], _ ex: LoadedExchange?, id: Int64) -> [(String, String)] {
        var out = m
        for f in ex?.begin.meta ?? [] where CaseExport.shownMetaKeys.contains(f.name) {
            if f.name == "moonpalace_id" { out.append(("id", String(id))) }
            out.removeAll { $0.0 == f.name }
            out.append((f.name, f.value))
        }
        return out
    }
}
