/// Windowed repetition metric for one text stream (a choice's `content` or its `reasoning_content`).
///
/// The metric: r = (distinct 32-scalar substrings among those starting in the last 3,000 scalars) / (how many start
/// there). Natural text has almost no repeated 32-character substrings, so r stays near 1; a loop of period p
/// contributes only p distinct ones, so r falls towards 0 as the loop fills the window. The stream trips when
/// more than `minLength` scalars were seen and r < `threshold`. Because only the window counts, a loop is caught
/// about window·(1 − threshold) + p scalars after it starts (≈ 1,500 + p at the default 0.5), however long the
/// healthy text before it — unlike MoonPalace's whole-output ratio — and nothing grows with the stream's length
/// (no overflow: MoonPalace's 32-bit n·(n+1) wrapped at 46,341 characters and cut every long answer).
///
/// Cost: O(1) per scalar (a rolling hash, one insert and one removal in an open-addressing count table), so O(1)
/// amortised per token; memory grows with the text up to a fixed ~155 KiB per stream (a short answer does not pay
/// for zeroing the full tables).
struct RepeatDetector: Sendable {
    static let gram = 32
    static let window = 3000
    static let tableSize = 8192   // power of two, > 2 × window: short probe runs
    static let base: UInt64 = 0x100000001B3
    static let basePower: UInt64 = {   // base^(gram-1), the weight of the oldest scalar
        var p: UInt64 = 1
        for _ in 0..<(gram - 1) { p = p &* base }
        return p
    }()

    let threshold: Double
    let minLength: Int
    /// Scalars seen.
    private(set) var length = 0
    private var rolling: UInt64 = 0
    private var gramCount = 0   // grams in the window (≤ window)
    private var gramNext = 0
    private(set) var distinct = 0
    /// All tables in one buffer (one move-out per fed piece): the last `gram` scalars (+1), the window's grams
    /// (`gramsCapacity` of them), then the count table as (key, count) pairs side by side (`slotCount` pairs), so a
    /// probe touches one cache line, not two. Both grow (doubling, rehashing) up to `window` and `tableSize`.
    private var tables = [UInt64](repeating: 0, count: Self.gram + 256 + 2 * 512)
    private var gramsCapacity = 256
    private var slotCount = 512

    init(threshold: Double, minLength: Int) {
        self.threshold = threshold
        self.minLength = minLength
    }

    /// The current ratio (1 before the first full substring).
    var ratio: Double { gramCount == 0 ? 1 : Double(distinct) / Double(gramCount) }

    /// Whether the stream has tripped (checked after each fed piece, like MoonPalace's per-chunk check).
    var tripped: Bool { length > minLength && gramCount > 0 && ratio < threshold }

    /// Feeds one piece of text; returns `tripped`.
    mutating func feed(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { feed(utf8: $0) }
    }

    /// Feeds one piece of valid UTF-8 (decoded here: no `String` needed); returns `tripped`.
    mutating func feed(utf8 s: UnsafeBufferPointer<UInt8>) -> Bool {
        reserve(s.count)
        return withTables { tables, state in
            var i = 0
            let n = s.count
            while i < n {
                let b = s[i]
                var c: UInt32
                var width: Int
                switch b {
                case 0..<0x80: c = UInt32(b); width = 1
                case 0xC0..<0xE0: c = UInt32(b & 0x1F); width = 2
                case 0xE0..<0xF0: c = UInt32(b & 0x0F); width = 3
                case 0xF0..<0xF8: c = UInt32(b & 0x07); width = 4
                default: c = 0xFFFD; width = 1   // not a lead byte (never in validated text)
                }
                if width > 1 {
                    if i + width > n { c = 0xFFFD; width = n - i } else {
                        for k in 1..<width { c = c << 6 | UInt32(s[i + k] & 0x3F) }
                    }
                }
                Self.add(c, &state, tables)
                i += width
            }
        }
    }

    /// Adds one scalar.
    mutating func add(_ c: UInt32) {
        reserve(1)
        _ = withTables { tables, state in Self.add(c, &state, tables) }
    }

    /// Room for `scalars` more grams: the ring, and the count table at most half full (the window's cap reached,
    /// every new gram replaces one, so neither grows further).
    private mutating func reserve(_ scalars: Int) {
        let grams = min(Self.window, gramCount + scalars)
        let keys = min(Self.window, distinct + scalars)
        guard grams > gramsCapacity || 2 * keys > slotCount else { return }
        var newGrams = gramsCapacity, newSlots = slotCount
        while newGrams < grams { newGrams = min(Self.window, newGrams * 2) }
        while newSlots < 2 * keys && newSlots < Self.tableSize { newSlots *= 2 }
        var grown = [UInt64](repeating: 0, count: Self.gram + newGrams + 2 * newSlots)
        let oldGrams = gramsCapacity, oldSlots = slotCount
        tables.withUnsafeBufferPointer { old in
            grown.withUnsafeMutableBufferPointer { new in
                for i in 0..<(Self.gram + min(oldGrams, gramCount)) { new[i] = old[i] }
                let slots = new.baseAddress! + Self.gram + newGrams
                let mask = newSlots - 1
                for i in 0..<oldSlots {
                    let key = old[Self.gram + oldGrams + 2 * i]
                    guard key != 0 else { continue }
                    var j = Int(truncatingIfNeeded: key) & mask
                    while slots[2 * j] != 0 { j = (j + 1) & mask }
                    slots[2 * j] = key
                    slots[2 * j + 1] = old[Self.gram + oldGrams + 2 * i + 1]
                }
            }
        }
        tables = grown
        gramsCapacity = newGrams
        slotCount = newSlots
    }

    /// The tables as raw pointers, for one fed piece (no uniqueness or bounds check per scalar).
    struct Tables {
        let recent: UnsafeMutablePointer<UInt64>
        let grams: UnsafeMutablePointer<UInt64>
        /// `slots[2 i]` the key of slot i (0: empty), `slots[2 i + 1]` its count.
        let slots: UnsafeMutablePointer<UInt64>
        /// Slot count − 1 (a power of two minus one).
        let mask: Int
    }

    struct Counters {
        var length: Int
        var rolling: UInt64
        var gramCount: Int
        var gramNext: Int
        var distinct: Int
    }

    /// Runs `body` with the tables moved out of `self` (so nothing else can reach them meanwhile) and put back.
    private mutating func withTables(_ body: (Tables, inout Counters) -> Void) -> Bool {
        var tables: [UInt64] = []
        swap(&tables, &self.tables)
        var state = Counters(length: length, rolling: rolling, gramCount: gramCount, gramNext: gramNext, distinct: distinct)
        tables.withUnsafeMutableBufferPointer { t in
            let base = t.baseAddress!
            body(Tables(recent: base, grams: base + Self.gram, slots: base + Self.gram + gramsCapacity,
                        mask: slotCount - 1), &state)
        }
        swap(&tables, &self.tables)
        length = state.length
        rolling = state.rolling
        gramCount = state.gramCount
        gramNext = state.gramNext
        distinct = state.distinct
        return tripped
    }

    @inline(__always)
    static func add(_ c: UInt32, _ st: inout Counters, _ t: Tables) {
        let slot = st.length % gram
        if st.length >= gram { st.rolling = st.rolling &- t.recent[slot] &* basePower }
        st.rolling = st.rolling &* base &+ UInt64(c &+ 1)
        t.recent[slot] = UInt64(c &+ 1)
        st.length += 1
        guard st.length >= gram else { return }
        if st.gramCount == window {
            if decrement(t.grams[st.gramNext], t) { st.distinct -= 1 }
        } else {
            st.gramCount += 1
        }
        let key = mix(st.rolling)
        t.grams[st.gramNext] = key
        st.gramNext = st.gramNext + 1 == window ? 0 : st.gramNext + 1
        if increment(key, t) { st.distinct += 1 }
    }

    /// Spreads the rolling hash over the table and never yields 0 (the empty-slot marker).
    static func mix(_ h: UInt64) -> UInt64 {
        var z = h &+ 0x9E3779B97F4A7C15
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        z ^= z >> 31
        return z == 0 ? 1 : z
    }

    /// Adds one occurrence; true when the key is new.
    @inline(__always)
    private static func increment(_ key: UInt64, _ t: Tables) -> Bool {
        let mask = t.mask
        var i = Int(truncatingIfNeeded: key) & mask
        while true {
            let k = t.slots[2 * i]
            if k == key { t.slots[2 * i + 1] += 1; return false }
            if k == 0 { t.slots[2 * i] = key; t.slots[2 * i + 1] = 1; return true }
            i = (i + 1) & mask
        }
    }

    /// Removes one occurrence; true when the key is gone (backward-shift deletion keeps probe runs intact).
    private static func decrement(_ key: UInt64, _ t: Tables) -> Bool {
        let mask = t.mask
        var i = Int(truncatingIfNeeded: key) & mask
        while t.slots[2 * i] != key {
            if t.slots[2 * i] == 0 { return false }   // not present (cannot happen for keys in the window)
            i = (i + 1) & mask
        }
        t.slots[2 * i + 1] -= 1
        if t.slots[2 * i + 1] > 0 { return false }
        var j = i
        while true {
            j = (j + 1) & mask
            let k = t.slots[2 * j]
            if k == 0 { break }
            let home = Int(truncatingIfNeeded: k) & mask
            // Move j back to the hole at i unless its home lies cyclically in (i, j].
            let inRange = i <= j ? (home > i && home <= j) : (home > i || home <= j)
            if inRange { continue }
            t.slots[2 * i] = k
            t.slots[2 * i + 1] = t.slots[2 * j + 1]
            i = j
        }
        t.slots[2 * i] = 0
        t.slots[2 * i + 1] = 0
        return true
    }
}
