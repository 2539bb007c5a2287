import Testing
import PalaceLog
@testable import PalaceIndex
#if canImport(Glibc)
import Glibc
#endif

/// A temp data directory with a real log written by the real `LogWriter`, and the index over it.
final class LogFixture: @unchecked Sendable {
    let dir: DataDirectory
    var writer: LogWriter?

    init() throws {
        var template = Array("/tmp/palaceindex-log-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        dir = DataDirectory(path: String(cString: p!))
        try dir.create()
    }

    deinit { _ = system("rm -rf '\(dir.path)'") }

    func openWriter() throws -> LogWriter {
        if let writer { return writer }
        let w = try LogWriter.open(directory: dir.logDirectory, options: LogWriterOptions(syncPolicy: .none))
        writer = w
        return w
    }

    func closeWriter() async throws {
        try await writer?.close()
        writer = nil
    }

    func index(notices: NoticeBox = NoticeBox()) throws -> ExchangeIndex {
        try ExchangeIndex(dataDirectory: dir, notice: { notices.add($0) })
    }

    /// Writes one complete chat exchange (or only its begin when `end == false`). Returns its id.
    @discardableResult
    func chat(model: String = "kimi-k2", user: String = "hello", answer: String = "hi there", status: Int = 200,
              stream: Bool = false, requestID: String? = nil, chatcmpl: String? = nil, systemPrompt: String? = nil,
              finish: String = "stop", latencyMs: Int64 = 800, end: Bool = true, failure: ExchangeFailure? = nil,
              startedAt: Int64? = nil, extraRequest: String = "") async throws -> UInt64 {
        let w = try openWriter()
        var messages: [String] = []
        if let systemPrompt { messages.append(#"{"role":"system","content":\#(json(systemPrompt))}"#) }
        messages.append(#"{"role":"user","content":\#(json(user))}"#)
        let body = #"{"model":\#(json(model)),"messages":[\#(messages.joined(separator: ","))],"temperature":0.3\#(stream ? ",\"stream\":true" : "")\#(extraRequest)}"#
        let start = startedAt ?? TimeExpression.nowMicros()
        let begin = ExchangeBegin(startedAt: start, method: "POST", target: "/v1/chat/completions",
                                  endpoint: "https://api.moonshot.cn",
                                  requestHeaders: [HeaderField(name: "Content-Type", value: "application/json"),
                                                   HeaderField(name: "Authorization", value: "Bearer ****abcd")],
                                  requestBody: Array(body.utf8), requestBodyComplete: true, clientRequestID: nil,
                                  flags: stream ? .stream : [], meta: [])
        let (id, _) = try await w.appendBegin(begin)
        guard end else { return id }
        let cmpl = chatcmpl ?? "chatcmpl-\(id)abcdefghijklmnop"
        let response = #"{"id":"\#(cmpl)","object":"chat.completion","created":1700000000,"model":\#(json(model)),"choices":[{"index":0,"message":{"role":"assistant","content":\#(json(answer))},"finish_reason":"\#(finish)"}],"usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46}}"#
        var e = ExchangeEnd(exchangeID: id, endedAt: start + latencyMs * 1000, status: status)
        e.responseHeaders = [HeaderField(name: "Content-Type", value: stream ? "text/event-stream" : "application/json"),
                             HeaderField(name: "Msh-Request-Id", value: requestID ?? "req-\(id)")]
        if stream {
            e.responseBody = Array("data: {\"id\":\"\(cmpl)\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\(json(answer))}}]}\n\ndata: [DONE]\n\n".utf8)
            e.mergedCompletion = Array(response.utf8)
        } else {
            e.responseBody = Array(response.utf8)
        }
        e.requestBodyLength = UInt64(body.utf8.count)
        e.responseBodyLength = UInt64(e.responseBody.count)
        e.timings = ExchangeTimings(ttfb: 100_000, ttft: stream ? 150_000 : nil, total: latencyMs * 1000, serverTimingMs: 700)
        e.requestID = requestID ?? "req-\(id)"
        e.chatcmplID = cmpl
        e.model = model
        e.usage = Usage(promptTokens: 12, completionTokens: 34, totalTokens: 46, cachedTokens: 0)
        e.finishReasons = [finish]
        e.flags = stream ? .stream : []
        e.failure = failure
        _ = try await w.append(.end(e))
        return id
    }

    func json(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

final class NoticeBox: @unchecked Sendable {
    private var items: [String] = []
    func add(_ s: String) { items.append(s) }
    var all: [String] { items }
}
