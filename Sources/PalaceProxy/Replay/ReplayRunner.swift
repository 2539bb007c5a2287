import PalaceLog
import PalaceWire
#if canImport(Glibc)
import Glibc
#endif

/// What a replay sent and got back.
public struct ReplayOutcome: Sendable {
    public var reply: HTTPReply
    /// The new exchange's id in the log, when it was found.
    public var exchangeID: UInt64?
    /// "the running proxy (pid N)" or "a temporary recording proxy".
    public var via: String
}

/// Sends a `ReplayRequest` so that the new exchange is recorded, linked to the original (`replay_of` in its begin
/// meta): through the proxy already serving the data directory (it owns the log), or else through a temporary
/// in-process proxy on 127.0.0.1 that records into the log and closes it again.
public enum ReplayRunner {
    /// Through the running proxy; the link travels in `X-MoonPalace-Replay-Of` with the control token.
    public static func send(_ r: ReplayRequest, via proxy: RunningProxy, logDirectory: String) async throws -> ReplayOutcome {
        let nonce = RunningProxy.newToken()
        let start = (try? LogReader(directory: logDirectory))?.nextSequence ?? 0
        let reply = try await post(r, baseURL: proxy.baseURL, token: proxy.token, nonce: nonce)
        let id = findLinked(logDirectory: logDirectory, from: start > 0 ? start - 1 : 0, nonce: nonce)
        return ReplayOutcome(reply: reply, exchangeID: id, via: "the running proxy (pid \(proxy.pid))")
    }

    /// Records itself: runs a `ProxyServer` for `endpoint` on a free loopback port for the one call.
    public static func sendRecording(_ r: ReplayRequest, endpoint: String, logDirectory: String,
                                     environment: [String: String]) async throws -> ReplayOutcome {
        let token = RunningProxy.newToken()
        let config = ProxyConfiguration(host: "127.0.0.1", port: 0, endpoint: endpoint, logDirectory: logDirectory,
                                        syncPolicy: .batch, shutdownGraceSeconds: 5, controlToken: token)
        let server: ProxyServer
        do { server = try ProxyServer(config: config, environment: environment) } catch {
            throw ReplayError("cannot record the replay: \(error)")
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let task = Task {
            do { try await server.run { port in continuation.yield(port) } } catch {}
            continuation.finish()
        }
        var port: Int?
        for await p in ports { port = p; break }
        guard let port else { task.cancel(); throw ReplayError("the temporary recording proxy did not start") }
        let nonce = RunningProxy.newToken()
        let start = (try? LogReader(directory: logDirectory))?.nextSequence ?? 0
        let result: Result<HTTPReply, any Error>
        do { result = .success(try await post(r, baseURL: "http://127.0.0.1:\(port)", token: token, nonce: nonce)) }
        catch { result = .failure(error) }
        // A graceful stop (the server's own SIGTERM handling): in-flight done, log synced and closed. Cancelling
        // the task instead makes Hummingbird log errors; it stays as the fallback if the signal is not honoured.
        kill(getpid(), SIGTERM)
        let fallback = Task { try? await Task.sleep(for: .seconds(15)); task.cancel() }
        await task.value
        fallback.cancel()
        let reply = try result.get()
        let id = findLinked(logDirectory: logDirectory, from: start > 0 ? start - 1 : 0, nonce: nonce)
        return ReplayOutcome(reply: reply, exchangeID: id, via: "a temporary recording proxy to \(config.endpoint)")
    }

    static func post(_ r: ReplayRequest, baseURL: String, token: String, nonce: String) async throws -> HTTPReply {
        var headers = r.headers
        headers.append(HeaderField(name: ControlChannel.tokenHeader, value: token))
        headers.append(HeaderField(name: ControlChannel.replayHeader, value: "\(r.originalID); nonce=\(nonce)"))
        let hasBody = !r.body.isEmpty || ["POST", "PUT", "PATCH"].contains(r.method.uppercased())
        switch await HTTPCall.send(method: r.method, url: baseURL + r.target, headers: headers,
                                   body: hasBody ? r.body : nil) {
        case .success(let reply): return reply
        case .failure(let f): throw ReplayError("the replay could not be sent through \(baseURL): \(f.message)")
        }
    }

    /// The exchange whose begin record carries `replay_nonce == nonce`, scanning the log from `sequence`.
    static func findLinked(logDirectory: String, from sequence: UInt64, nonce: String) -> UInt64? {
        guard let reader = try? LogReader(directory: logDirectory) else { return nil }
        for r in reader.records(from: sequence) {
            if case .begin(let b) = r.record, b.meta.contains(where: { $0.name == "replay_nonce" && $0.value == nonce }) {
                return b.exchangeID
            }
        }
        return nil
    }
}

/// The facts `replay` compares: status, finish reason(s), usage and the answer text.
public struct ResponseFacts: Sendable, Equatable {
    public var status: Int
    public var finishReason: String?
    public var usage: WireUsage?
    public var content: String

    /// Facts of a response body (a stream's raw events are merged first).
    public init(status: Int, body: [UInt8], stream: Bool? = nil) {
        self.status = status
        var value: JSONValue?
        let looksSSE = stream ?? (body.starts(with: Array("data:".utf8)) || body.starts(with: Array("event:".utf8))
                                  || body.starts(with: Array(":".utf8)))
        if looksSSE {
            var parser = SSEParser()
            var events = parser.feed(body)
            if let last = parser.finish() { events.append(last) }
            var merger = CompletionMerger()
            for e in events where !e.isDone && e.hasData { try? merger.add(sseData: e.data) }
            if merger.chunkCount > 0 { value = merger.result() }
        } else {
            value = try? JSONValue.parse(body)
        }
        let facts = value.map(CompletionFacts.of)
        finishReason = facts.map { f in f.finishReasons.keys.sorted().compactMap { f.finishReasons[$0] }.joined(separator: ",") }
            .flatMap { $0.isEmpty ? nil : $0 }
        usage = facts?.usage
        if let choice = value?["choices"]?[0], let m = choice["message"] ?? choice["delta"] {
            var text = m["content"]?.stringValue ?? ""
            if text.isEmpty, let calls = m["tool_calls"]?.arrayValue, !calls.isEmpty {
                text = calls.compactMap { c in
                    guard let f = c["function"] else { return nil }
                    return (f["name"]?.stringValue ?? "?") + "(" + (f["arguments"]?.stringValue ?? "") + ")"
                }.joined(separator: "; ")
            }
            content = text
        } else if let err = value?["error"]?["message"]?.stringValue {
            content = "error: " + err
        } else {
            content = String(decoding: body.prefix(300), as: UTF8.self)
        }
    }

    /// A compact, aligned comparison: one line per fact, `=` when equal, `old → new` otherwise; the answers are
    /// shown (cut to `width` characters) only when they differ.
    public static func diff(original o: ResponseFacts, replay r: ResponseFacts, width: Int = 160) -> String {
        func usage(_ u: WireUsage?) -> String {
            guard let u else { return "-" }
            return "prompt \(u.promptTokens), completion \(u.completionTokens), total \(u.totalTokens)"
                + (u.cachedTokens > 0 ? ", cached \(u.cachedTokens)" : "")
        }
        func line(_ name: String, _ a: String, _ b: String) -> String {
            let pad = name + String(repeating: " ", count: max(1, 15 - name.count))
            return a == b ? "\(pad)= \(a)" : "\(pad)\(a) → \(b)"
        }
        func cut(_ s: String) -> String {
            let one = String(s.map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : $0 })
            return one.count > width ? String(one.prefix(width)) + "…" : one
        }
        var out = [line("status", String(o.status), String(r.status)),
                   line("finish_reason", o.finishReason ?? "-", r.finishReason ?? "-"),
                   line("usage", usage(o.usage), usage(r.usage))]
        if o.content == r.content {
            out.append("content        = (same, \(o.content.count) characters)")
        } else {
            out.append("content        - " + cut(o.content))
            out.append("               + " + cut(r.content))
        }
        return out.joined(separator: "\n")
    }
}
