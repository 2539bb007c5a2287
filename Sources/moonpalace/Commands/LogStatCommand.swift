import ArgumentParser
import PalaceLog

/// `moonpalace log stat [--json]`: segments, records, raw vs stored bytes, compression ratio.
struct LogStatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stat", abstract: "Show segments, records, raw vs stored bytes and the compression ratio.")

    @OptionGroup var data: DataDirOptions
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() async throws {
        let dir = try data.open()
        let s: LogSummary
        do { s = try LogInspector.inspect(directory: dir.logDirectory, decode: false) } catch {
            throw logCommandFailure(error.description)
        }
        print(json ? Self.json(s) : Self.text(s))
    }

    static func text(_ s: LogSummary) -> String {
        var byType: [String: Int] = [:]
        for seg in s.segments { for (k, v) in seg.recordsByType { byType[k, default: 0] += v } }
        let types = byType.keys.sorted().map { "\($0) \(byType[$0]!)" }.joined(separator: ", ")
        var lines = [
            "log:      \(s.directory)",
            "segments: \(s.segments.count)" + (s.segments.isEmpty ? "" : " (\(s.segments.count - 1) sealed, 1 active)"),
            "records:  \(s.records)" + (types.isEmpty ? "" : " (\(types))"),
            "payload:  \(s.rawBytes) bytes raw, \(s.storedBytes) bytes stored, ratio \(fmt(s.ratio))×",
            "files:    \(s.fileBytes) bytes",
        ]
        if let t = s.tornTail { lines.append("torn tail: \(t)") }
        if !s.damage.isEmpty { lines.append("damage:   \(s.damage.count) region(s); run `moonpalace log verify`") }
        if !s.segments.isEmpty {
            lines.append("")
            lines.append("segment                   created                      records        raw     stored  ratio")
            for seg in s.segments {
                let ratio = seg.storedBytes == 0 ? 1 : Double(seg.rawBytes) / Double(seg.storedBytes)
                lines.append("\(seg.fileName)  \(RFC3339.format(micros: seg.createdAt))  \(pad(seg.records, 7))  "
                             + "\(pad(seg.rawBytes, 9))  \(pad(seg.storedBytes, 9))  \(fmt(ratio))×")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ s: LogSummary) -> String {
        let segs = s.segments.map { seg in
            "{\"name\":\"\(seg.fileName)\",\"base\":\(seg.base),\"created\":\"\(RFC3339.format(micros: seg.createdAt))\","
                + "\"bytes\":\(seg.fileBytes),\"records\":\(seg.records),\"raw_bytes\":\(seg.rawBytes),"
                + "\"stored_bytes\":\(seg.storedBytes),\"first_id\":\(seg.firstSequence.map(String.init) ?? "null"),"
                + "\"last_id\":\(seg.lastSequence.map(String.init) ?? "null")}"
        }
        let torn = s.tornTail.map { "{\"segment\":\($0.segment),\"offset\":\($0.offset),\"bytes\":\($0.length)}" } ?? "null"
        return "{\"directory\":\(RecordJSON.quote(s.directory)),\"segments\":[\(segs.joined(separator: ","))],"
            + "\"records\":\(s.records),\"raw_bytes\":\(s.rawBytes),\"stored_bytes\":\(s.storedBytes),"
            + "\"file_bytes\":\(s.fileBytes),\"ratio\":\(fmt(s.ratio)),\"damaged_regions\":\(s.damage.count),"
            + "\"torn_tail\":\(torn)}"
    }

    static func fmt(_ x: Double) -> String {
        let r = (x * 100).rounded() / 100
        return "\(r)"
    }
    static func pad(_ v: some BinaryInteger, _ w: Int) -> String {
        let s = String(v)
        return String(repeating: " ", count: max(0, w - s.count)) + s
    }
}
