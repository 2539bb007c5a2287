import CSQLite
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The SQL functions over `BodySkeleton` columns that body-path predicates compile to in the index:
/// - `mp_skel_known(skeleton, path, null_test)`: 1 when the skeleton decides the path (for a null test, 1 also when
///   the value is there but its text is not kept), else 0; NULL skeleton → 0.
/// - `mp_skel_value(skeleton, path)`: the JSON text of the value at the path (NULL when the path leads nowhere), so
///   `json_extract(mp_skel_value(s, p), '$')` is what `json_extract(body, p)` returns wherever `mp_skel_known` is 1.
/// `path` is `BodySkeleton.encodePath`'s JSON array.
///
/// Both calls for one row usually follow each other, so the last skeleton decompressed and the last lookup are
/// kept (per connection; a connection is used by one thread at a time).
final class SkeletonFunctions {
    private var lastStored: [UInt8] = []
    private var hasLast = false
    private let scratch: UnsafeMutablePointer<UInt8>
    private let capacity = BodySkeleton.maxBytes + 64
    private var length = -1
    private var paths: [[UInt8]: [PredicatePathStep]] = [:]
    private var lastPath: [UInt8] = []
    private var lastLookup: BodySkeleton.Lookup?

    init() { scratch = .allocate(capacity: BodySkeleton.maxBytes + 64) }
    deinit { scratch.deallocate() }

    /// The lookup of `pathArg` in `skelArg`; nil when the skeleton is NULL or damaged.
    func lookup(_ skelArg: OpaquePointer, _ pathArg: OpaquePointer) -> BodySkeleton.Lookup? {
        guard sqlite3_value_type(skelArg) == SQLITE_BLOB, let blob = sqlite3_value_blob(skelArg) else { return nil }
        let stored = UnsafeRawBufferPointer(start: blob, count: Int(sqlite3_value_bytes(skelArg)))
        let same = hasLast && lastStored.count == stored.count
            && lastStored.withUnsafeBytes { memcmp($0.baseAddress!, stored.baseAddress!, stored.count) == 0 }
        if !same {
            lastStored = Array(stored)
            hasLast = true
            length = BodySkeleton.decompress(stored, into: scratch, capacity: capacity) ?? -1
            lastLookup = nil
        }
        guard length > 0 else { return nil }
        let pathBytes: [UInt8]
        if let t = sqlite3_value_text(pathArg) {
            pathBytes = Array(UnsafeBufferPointer(start: t, count: Int(sqlite3_value_bytes(pathArg))))
        } else {
            return nil
        }
        if let l = lastLookup, pathBytes == lastPath { return l }
        let steps: [PredicatePathStep]
        if let s = paths[pathBytes] {
            steps = s
        } else {
            guard let s = BodySkeleton.decodePath(pathBytes) else { return nil }
            if paths.count > 64 { paths.removeAll() }
            paths[pathBytes] = s
            steps = s
        }
        let l = BodySkeleton.lookup(UnsafeBufferPointer(start: scratch, count: length), path: steps)
        lastPath = pathBytes
        lastLookup = l
        return l
    }

    func valueText(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: scratch + range.lowerBound, count: range.count)
    }

    static func register(on db: OpaquePointer) {
        let state = Unmanaged.passRetained(SkeletonFunctions()).toOpaque()
        sqlite3_create_function_v2(db, "mp_skel_known", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC, state, { ctx, argc, argv in
            guard let ctx, let argv, argc == 3, let s = argv[0], let p = argv[1], let n = argv[2] else { return }
            let f = Unmanaged<SkeletonFunctions>.fromOpaque(sqlite3_user_data(ctx)).takeUnretainedValue()
            let known: Bool
            switch f.lookup(s, p) {
            case .value?, .missing?: known = true
            case .present?: known = sqlite3_value_int(n) != 0
            case .unknown?, nil: known = false
            }
            sqlite3_result_int(ctx, known ? 1 : 0)
        }, nil, nil, { p in if let p { Unmanaged<SkeletonFunctions>.fromOpaque(p).release() } })
        // Shares the state above (released once, by mp_skel_known's destructor).
        sqlite3_create_function_v2(db, "mp_skel_value", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, state, { ctx, argc, argv in
            guard let ctx, let argv, argc == 2, let s = argv[0], let p = argv[1] else { return }
            let f = Unmanaged<SkeletonFunctions>.fromOpaque(sqlite3_user_data(ctx)).takeUnretainedValue()
            switch f.lookup(s, p) {
            case .value(let r)?:
                let t = f.valueText(r)
                // SQLITE_TRANSIENT: SQLite copies the bytes.
                sqlite3_result_text(ctx, UnsafeRawPointer(t.baseAddress!).assumingMemoryBound(to: CChar.self), Int32(t.count),
                                    unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            case .present?:
                // Not null, text not kept: a value that is not NULL (only reached by null tests).
                sqlite3_result_text(ctx, "\"\"", 2, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            default:
                sqlite3_result_null(ctx)
            }
        }, nil, nil, nil)
    }
}
