import CSQLite

/// The SQL function behind `x REGEXP pattern` (SQLite calls `regexp(pattern, x)`), as in MoonPalace.
/// Pattern syntax: Swift Regex (close to RE2 for the common subset); classes are ASCII-only like RE2's.
/// NULL subject → NULL; an invalid pattern matches nothing (the predicate planner rejects it earlier anyway).
enum RegexpFunction {
    /// A compiled pattern kept by SQLite as auxiliary data for the statement's lifetime.
    final class Compiled {
        let regex: Regex<AnyRegexOutput>?
        init(_ pattern: String) { regex = try? Regex(pattern).asciiOnlyCharacterClasses() }
    }

    static func compile(_ pattern: String) -> Regex<AnyRegexOutput>? { Compiled(pattern).regex }

    static func register(on db: OpaquePointer) {
        sqlite3_create_function_v2(db, "regexp", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nil, { ctx, argc, argv in
            guard let ctx, let argv, argc == 2 else { return }
            guard let patArg = argv[0], let subjArg = argv[1] else { return }
            if sqlite3_value_type(subjArg) == SQLITE_NULL || sqlite3_value_type(patArg) == SQLITE_NULL {
                sqlite3_result_null(ctx)
                return
            }
            let compiled: Compiled
            if let aux = sqlite3_get_auxdata(ctx, 0) {
                compiled = Unmanaged<Compiled>.fromOpaque(aux).takeUnretainedValue()
            } else {
                let pattern = String(cString: sqlite3_value_text(patArg))
                compiled = Compiled(pattern)
                sqlite3_set_auxdata(ctx, 0, Unmanaged.passRetained(compiled).toOpaque()) { p in
                    if let p { Unmanaged<Compiled>.fromOpaque(p).release() }
                }
            }
            guard let regex = compiled.regex, let text = sqlite3_value_text(subjArg) else {
                sqlite3_result_int(ctx, 0)
                return
            }
            let subject = String(cString: text)
            sqlite3_result_int(ctx, (try? regex.firstMatch(in: subject)) != nil ? 1 : 0)
        }, nil, nil, nil)
    }
}
