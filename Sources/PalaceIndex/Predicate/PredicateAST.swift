/// A parsed predicate. `&&` binds tighter than `||` (SQL's rule, which MoonPalace inherits); parentheses group.
/// There is no NOT over groups (the grammar has none), so every node is monotone in its atoms — the property the
/// pushdown relies on (see `PredicatePlan`).
public indirect enum PredicateNode: Sendable, Equatable {
    case and([PredicateNode])
    case or([PredicateNode])
    case compare(PredicateComparison)

    /// Every comparison, left to right.
    public var comparisons: [PredicateComparison] {
        switch self {
        case .and(let xs), .or(let xs): return xs.flatMap(\.comparisons)
        case .compare(let c): return [c]
        }
    }
}

/// One step of a dotted JSON path: `.name`, `.0` (from the start) or `.-1` (from the end).
public enum PredicatePathStep: Sendable, Equatable, Hashable {
    case key(String)
    case index(Int)

    /// SQLite JSON path text for steps (`$.messages[0].role`, `[#-1]` from the end).
    public static func sqlitePath(_ steps: [PredicatePathStep]) -> String {
        var p = "$"
        for s in steps {
            switch s {
            case .key(let k): p += "." + k
            case .index(let i): p += i < 0 ? "[#\(i)]" : "[\(i)]"
            }
        }
        return p
    }
}

/// A field reference as written: the name (backticks removed) and the JSON path after it.
public struct PredicateFieldRef: Sendable, Equatable {
    public var name: String
    public var path: [PredicatePathStep]
    public var column: Int
}

/// A literal as written. Numbers keep their text (`200.00`); strings are the content between the quotes.
public enum PredicateLiteral: Sendable, Equatable {
    case string(String)
    case number(String)
    case bool(Bool)
}

public enum PredicateOperator: String, Sendable, Equatable {
    case eq = "==", ne = "!=", gt = ">", ge = ">=", lt = "<", le = "<="
    case isNull = "== null", isNotNull = "!= null"
    case like = "~", notLike = "!~", regexp = "%", notRegexp = "!%", inList = "@", notInList = "!@"
}

public struct PredicateComparison: Sendable, Equatable {
    public var field: PredicateFieldRef
    public var op: PredicateOperator
    /// One value for ordinary operators, none for the null tests, one or more for `@`/`!@`.
    public var values: [PredicateLiteral]
    /// Column of the operator, for error messages.
    public var opColumn: Int
    /// Column of the first value.
    public var valueColumn: Int
}
