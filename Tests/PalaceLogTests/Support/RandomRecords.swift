@testable import PalaceLog

/// Random records of every type for property tests; sizes from `sizes`.
enum RandomRecords {
    static func string(_ r: inout SeededRandom, max: Int = 24) -> String {
        let pool = Array("abcXYZ019 -_/?=&中文字符测试🙂\"\\\n\t")
        return String((0..<Int.random(in: 0...max, using: &r)).map { _ in pool.randomElement(using: &r)! })
    }

    static func bytes(_ r: inout SeededRandom, count: Int) -> [UInt8] {
        // Half text-like (compressible), half random (stored raw).
        if Bool.random(using: &r) {
            let unit = Array("data: {\"choices\":[{\"delta\":{\"content\":\"你好\"}}]}\n\n".utf8)
            return (0..<count).map { unit[$0 % unit.count] ^ (UInt8.random(in: 0..<8, using: &r) == 0 ? 1 : 0) }
        }
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &r) }
    }

    static func headers(_ r: inout SeededRandom) -> [HeaderField] {
        (0..<Int.random(in: 0...4, using: &r)).map { _ in HeaderField(name: string(&r, max: 10), value: string(&r)) }
    }

    /// Arrival times (FORMAT.md 1.2): none, or a few reads with any lengths and non-decreasing times.
    static func arrivals(_ r: inout SeededRandom) -> BodyArrivals {
        var a = BodyArrivals()
        var t = Int64.random(in: 0...1 << 40, using: &r)
        for _ in 0..<Int.random(in: 0...6, using: &r) * Int.random(in: 0...1, using: &r) {
            a.append(length: Int.random(in: 1...1 << 20, using: &r), micros: t)
            t += Int64.random(in: 0...100_000, using: &r)
        }
        return a
    }

    static func opt<T>(_ r: inout SeededRandom, _ make: (inout SeededRandom) -> T) -> T? {
        Bool.random(using: &r) ? make(&r) : nil
    }

    static func record(_ r: inout SeededRandom, bodySize: Int, exchangeID: UInt64) -> LogRecord {
        switch Int.random(in: 0..<5, using: &r) {
        case 0:
            return .begin(ExchangeBegin(exchangeID: 0, startedAt: Int64.random(in: -1...Int64.max / 2, using: &r),
                                        method: string(&r, max: 6), target: string(&r), endpoint: string(&r),
                                        requestHeaders: headers(&r), requestBody: bytes(&r, count: bodySize),
                                        requestBodyComplete: Bool.random(using: &r),
                                        clientRequestID: opt(&r) { string(&$0) },
                                        flags: ExchangeFlags(rawValue: UInt64.random(in: 0...UInt64.max, using: &r)),
                                        meta: headers(&r)))
        case 1:
            return .chunk(ExchangeChunk(exchangeID: exchangeID, direction: Bool.random(using: &r) ? .request : .response,
                                        offset: UInt64.random(in: 0...UInt64.max, using: &r), bytes: bytes(&r, count: bodySize),
                                        arrivals: arrivals(&r)))
        case 2:
            return .end(ExchangeEnd(
                exchangeID: exchangeID, endedAt: Int64.random(in: Int64.min...Int64.max, using: &r),
                status: Int.random(in: -1...599, using: &r), responseHeaders: headers(&r),
                responseBody: bytes(&r, count: bodySize), responseBodyOffset: UInt64.random(in: 0...1 << 40, using: &r),
                requestBodyLength: UInt64.random(in: 0...1 << 40, using: &r),
                responseBodyLength: UInt64.random(in: 0...1 << 40, using: &r),
                timings: ExchangeTimings(ttfb: opt(&r) { Int64.random(in: -5...Int64.max, using: &$0) },
                                         ttft: opt(&r) { _ in 0 }, total: opt(&r) { Int64.random(in: 0...1 << 50, using: &$0) },
                                         serverTimingMs: opt(&r) { Double.random(in: -1...1e9, using: &$0) },
                                         tpotMs: opt(&r) { _ in 0.0 }, outputTokensPerSecond: opt(&r) { _ in 42.5 }),
                requestID: opt(&r) { string(&$0) }, chatcmplID: opt(&r) { string(&$0) }, uid: opt(&r) { _ in "" },
                gid: opt(&r) { string(&$0) }, model: opt(&r) { string(&$0) },
                usage: opt(&r) { Usage(promptTokens: Int.random(in: -3...1 << 40, using: &$0), completionTokens: 0,
                                       totalTokens: 7, cachedTokens: Int.random(in: 0...9, using: &$0)) },
                finishReasons: (0..<Int.random(in: 0...3, using: &r)).map { _ in string(&r, max: 8) },
                flags: ExchangeFlags(rawValue: UInt64.random(in: 0...127, using: &r)),
                warnings: (0..<Int.random(in: 0...2, using: &r)).map { _ in string(&r) },
                failure: opt(&r) { ExchangeFailure(step: string(&$0, max: 8), message: string(&$0)) },
                mergedCompletion: opt(&r) { bytes(&$0, count: Int.random(in: 0...200, using: &$0)) },
                arrivals: arrivals(&r)))
        case 3:
            return .annotation(Annotation(exchangeID: exchangeID, category: opt(&r) { string(&$0, max: 8) },
                                          addTags: (0..<Int.random(in: 0...3, using: &r)).map { _ in string(&r, max: 8) },
                                          removeTags: (0..<Int.random(in: 0...2, using: &r)).map { _ in string(&r, max: 8) }))
        default:
            return .tombstone(Tombstone(exchangeIDs: (0..<Int.random(in: 0...5, using: &r)).map { _ in
                UInt64.random(in: 0...UInt64.max, using: &r) }, reason: string(&r)))
        }
    }
}
