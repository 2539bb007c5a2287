import Foundation
@testable import PalaceLog

/// A fresh directory, removed by `remove()`. Under /dev/shm when present (a real file system whose fsync is
/// free, so tests that reopen a log hundreds of times stay fast), else the system temp dir.
struct TempDirectory {
    let path: String

    init(_ label: String = "palacelog") {
        let base = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm"
            : FileManager.default.temporaryDirectory.path
        path = base + "/\(label)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func segmentFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".seg") }.sorted()
    }

    func bytes(_ name: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path + "/" + name) ?? Data()) }

    func write(_ name: String, _ bytes: [UInt8]) {
        FileManager.default.createFile(atPath: path + "/" + name, contents: Data(bytes))
    }
}

/// Deterministic random numbers (SplitMix64) so failures reproduce from the printed seed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Samples {
    static func begin(_ i: Int, body: [UInt8]? = nil) -> ExchangeBegin {
        ExchangeBegin(startedAt: 1_700_000_000_000_000 + Int64(i), method: "POST", target: "/v1/chat/completions?x=\(i)",
                      endpoint: "https://api.moonshot.cn",
                      requestHeaders: [HeaderField(name: "Authorization", value: SecretMask.mask("Bearer sk-test\(i)abcd")),
                                       HeaderField(name: "Content-Type", value: "application/json")],
                      requestBody: body ?? Array("{\"model\":\"kimi-k2\",\"messages\":[{\"role\":\"user\",\"content\":\"你好 \(i)\"}]}".utf8),
                      clientRequestID: i % 2 == 0 ? "req-\(i)" : nil, flags: i % 3 == 0 ? [.stream] : [])
    }

    static func end(_ id: UInt64, _ i: Int) -> ExchangeEnd {
        ExchangeEnd(exchangeID: id, endedAt: 1_700_000_000_500_000 + Int64(i), status: 200,
                    responseHeaders: [HeaderField(name: "Msh-Request-Id", value: "r-\(i)")],
                    responseBody: Array("{\"id\":\"chatcmpl-\(i)\",\"object\":\"chat.completion\"}".utf8),
                    requestBodyLength: 80, responseBodyLength: 60,
                    timings: ExchangeTimings(ttfb: 1200, ttft: nil, total: 5000, serverTimingMs: 12.5),
                    requestID: "r-\(i)", chatcmplID: "chatcmpl-\(i)", model: "kimi-k2",
                    usage: Usage(promptTokens: 10, completionTokens: 5, totalTokens: 15, cachedTokens: 0),
                    finishReasons: ["stop"], flags: [.stream], warnings: [], failure: nil,
                    mergedCompletion: i % 2 == 0 ? Array("{}".utf8) : nil)
    }
}
