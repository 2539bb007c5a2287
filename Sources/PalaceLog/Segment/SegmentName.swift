/// Segment files are named by their base sequence number: 20 decimal digits and `.seg`
/// (`00000000000000000001.seg`), so names sort like the log. Temporary files end in `.tmp`.
public enum SegmentName {
    public static let suffix = ".seg"
    public static let temporarySuffix = ".tmp"

    public static func fileName(for base: UInt64) -> String {
        let digits = String(base)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    /// The base sequence number of a segment file name, or nil when the name is not one.
    public static func base(of fileName: String) -> UInt64? {
        guard fileName.hasSuffix(suffix) else { return nil }
        let digits = fileName.dropLast(suffix.count)
        guard digits.count == 20, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    /// The base sequence numbers of the segments in `directory`, ascending.
    static func list(_ directory: String) throws(LogError) -> [UInt64] {
        try Posix.listDirectory(directory).compactMap(base(of:)).sorted()
    }

    static func path(_ directory: String, _ base: UInt64) -> String { directory + "/" + fileName(for: base) }
}
