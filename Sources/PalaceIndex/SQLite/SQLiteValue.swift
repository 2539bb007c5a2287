/// One SQLite value, as bound to a parameter or read from a column.
public enum SQLiteValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var int64: Int64? {
        switch self {
        case .integer(let v): return v
        case .real(let d): return Int64(exactly: d.rounded()) 
        default: return nil
        }
    }
    public var double: Double? {
        switch self {
        case .integer(let v): return Double(v)
        case .real(let d): return d
        default: return nil
        }
    }
    public var string: String? {
        if case .text(let s) = self { return s }
        return nil
    }
    public var isNull: Bool { self == .null }
}

extension Optional where Wrapped == String {
    /// A nil or empty string as SQL NULL (MoonPalace stores empty values as NULL).
    var sqlNullIfEmpty: SQLiteValue {
        guard let s = self, !s.isEmpty else { return .null }
        return .text(s)
    }
}
