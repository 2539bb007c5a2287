import Foundation
import PalaceLog

/// The benchmark corpus: exchanges from `tools/corpus/generate.py --jsonl` turned into log records.
struct LogBenchCorpus {
    struct Item { var begin: ExchangeBegin; var end: ExchangeEnd; var stream: Bool }
    var items: [Item] = []
    /// Every body concatenated, to cut fixed-size realistic chunk records from.
    var bodyBytes: [UInt8] = []

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LogBenchError("cannot read corpus \(path); generate it with tools/corpus/generate.py --pool test --jsonl FILE")
        }
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let o = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { continue }
            func headers(_ k: String) -> [HeaderField] {
                ((o[k] as? [[String]]) ?? []).compactMap { $0.count == 2 ? HeaderField(name: $0[0], value: $0[1]) : nil }
            }
            let req = Array(((o["request_body"] as? String) ?? "").utf8)
            let res = Array(((o["response_body"] as? String) ?? "").utf8)
            let stream = (o["stream"] as? Bool) ?? false
            let begin = ExchangeBegin(startedAt: 1_763_900_000_000_000, method: (o["method"] as? String) ?? "POST",
                                      target: (o["target"] as? String) ?? "/", endpoint: "https://api.moonshot.cn",
                                      requestHeaders: headers("request_headers"), requestBody: req,
                                      flags: stream ? [.stream] : [])
            let end = ExchangeEnd(exchangeID: 1, endedAt: 1_763_900_001_000_000, status: (o["status"] as? Int) ?? 200,
                                  responseHeaders: headers("response_headers"), responseBody: res,
                                  requestBodyLength: UInt64(req.count), responseBodyLength: UInt64(res.count),
                                  timings: ExchangeTimings(ttfb: 350_000, ttft: 420_000, total: 2_100_000),
                                  requestID: "d3b07384-d9a0-4c8b-9f1e-6b1c2e8a9f10", chatcmplID: o["chatcmpl"] as? String,
                                  model: o["model"] as? String,
                                  usage: Usage(promptTokens: 812, completionTokens: 96, totalTokens: 908),
                                  finishReasons: ["stop"], flags: stream ? [.stream] : [],
                                  mergedCompletion: (o["merged"] as? String).map { Array($0.utf8) })
            items.append(Item(begin: begin, end: end, stream: stream))
            bodyBytes.append(contentsOf: req)
            bodyBytes.append(contentsOf: res)
        }
        guard !items.isEmpty, bodyBytes.count >= 1 << 20 else { throw LogBenchError("corpus \(path) is too small") }
    }

    /// `count` chunk records of `size` bytes cut from the corpus bodies at varying offsets.
    func chunks(size: Int, count: Int) -> [LogRecord] {
        (0..<count).map { i in
            let start = (i &* 7919 &* 97) % (bodyBytes.count - size)
            return .chunk(ExchangeChunk(exchangeID: UInt64(i + 1), direction: .response, offset: UInt64(i * size),
                                        bytes: Array(bodyBytes[start..<(start + size)])))
        }
    }
}

struct LogBenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
