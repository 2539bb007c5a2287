import HTTPTypes
import Hummingbird
import PalaceWire

/// `POST /v1/chat/completions`: validation, context-cache use, planning, then JSON or SSE.
struct ChatRoutes: Sendable {
    let gate: Gate
    let state: MockState

    static let bodyLimit = 16 << 20

    func register(on router: Router<MockRequestContext>) {
        router.post("/v1/chat/completions") { request, _ in
            await gate.serve(request) { settings in try await complete(request, settings: settings) }
        }
    }

    func complete(_ request: Request, settings: RequestSettings) async throws -> Response {
        var chat = try ChatRequest.parse(try await Gate.body(of: request, limit: Self.bodyLimit))
        guard ModelCatalog.isServed(chat.model) else {
            throw APIError.notFound("Not found the model \(chat.model) or Permission denied")
        }
        let use = try state.caches.apply(to: &chat, headers: request.headers)
        let prompt = TokenEstimator.estimate(messages: use.cachedMessages + chat.messages, tools: use.tools ?? chat.toolsJSON)
        let plan = ChatPlan(
            request: chat, settings: settings, promptTokens: prompt, cachedTokens: min(use.cachedTokens, prompt))
        let encoding = ChatEncoding(id: settings.completionID ?? Identifiers.chatCompletion(), created: WallClock.nowSeconds(), model: chat.model)
        var headers = use.responseHeaders
        if use.dryRun {
            // X-Msh-Context-Cache-DryRun / dry_run=1: validation only — no inference, no completion tokens.
            let usage = ChatEncoding.usage(prompt: plan.promptTokens, completion: 0, cached: plan.cachedTokens)
            var response = JSONResponse.make(text: encoding.completionPrefix + "],\"usage\":" + usage + "}")
            for field in headers { response.headers.append(field) }
            return response
        }
        if chat.stream {
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-cache"
            let stream = ChatStream(plan: plan, encoding: encoding, settings: settings, includeUsage: chat.includeUsage)
            return Response(status: .ok, headers: headers, body: stream.body)
        }
        let json = ChatJSON(plan: plan, encoding: encoding, settings: settings)
        let latency = json.simulatedLatencyMs
        if latency > 0 { try await Task.sleep(for: .milliseconds(latency)) }
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: json.body)
    }
}
