import HTTPTypes
import Hummingbird
import PalaceWire
import Testing

@testable import PalaceMock

@Suite struct ChatServerTests {
    @Test func jsonCompletionHasTheRealShapeAndHeaders() async throws {
        try await withMock { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: chatBody()) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("Msh-Request-Id")!]?.count == 36)
                #expect(response.headers[HTTPField.Name("Server-Timing")!]?.hasPrefix("inner; dur=") == true)
                #expect(response.headers[HTTPField.Name("Msh-Gid")!] == "enterprise-tier-5")
                let json = try JSONValue.parse(String(buffer: response.body))
                #expect(json["object"]?.stringValue == "chat.completion")
                #expect(json["id"]?.stringValue?.hasPrefix("chatcmpl-") == true)
                #expect(json["model"]?.stringValue == "kimi-k2-turbo-preview")
                #expect(json["choices"]?[0]?["finish_reason"]?.stringValue == "stop")
                #expect((json["choices"]?[0]?["message"]?["content"]?.stringValue ?? "").isEmpty == false)
                let usage = json["usage"]
                #expect(usage?["total_tokens"]?.intValue == (usage?["prompt_tokens"]?.intValue ?? 0) + (usage?["completion_tokens"]?.intValue ?? 0))
            }
        }
    }

    @Test func streamMergesToTheSameContentAsJSON() async throws {
        try await withMock { client in
            let json = try await client.execute(uri: "/v1/chat/completions", method: .post, body: chatBody(",\"seed\":11"))
            let stream = try await client.execute(
                uri: "/v1/chat/completions", method: .post,
                body: chatBody(",\"seed\":11,\"stream\":true,\"stream_options\":{\"include_usage\":true}"))
            #expect(stream.headers[.contentType] == "text/event-stream")
            let events = sseData(stream.body)
            #expect(events.last == "[DONE]")
            var content = ""
            var finish: String?
            var choiceUsage: JSONValue?
            var topUsage: JSONValue?
            for event in events.dropLast() {
                let chunk = try JSONValue.parse(event)
                #expect(chunk["object"]?.stringValue == "chat.completion.chunk")
                if let usage = chunk["usage"] { topUsage = usage }
                guard let choice = chunk["choices"]?[0] else { continue }
                content += choice["delta"]?["content"]?.stringValue ?? ""
                if let reason = choice["finish_reason"]?.stringValue { finish = reason }
                if let usage = choice["usage"] { choiceUsage = usage }
            }
            let message = try JSONValue.parse(String(buffer: json.body))
            #expect(content == message["choices"]?[0]?["message"]?["content"]?.stringValue)
            #expect(finish == "stop")
            #expect(choiceUsage == message["usage"])
            #expect(topUsage == message["usage"])
        }
    }

    @Test func maxTokensGivesLengthAndCountsTokens() async throws {
        try await withMock { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: chatBody(",\"max_tokens\":3")) { response in
                let json = try JSONValue.parse(String(buffer: response.body))
                #expect(json["choices"]?[0]?["finish_reason"]?.stringValue == "length")
                #expect(json["usage"]?["completion_tokens"]?.intValue == 3)
            }
        }
    }

    @Test func repeatedRequestsReuseContentButNeverAcrossDifferentPlans() async throws {
        try await withMock { client in
            func message(_ extra: String) async throws -> JSONValue {
                let response = try await client.execute(uri: "/v1/chat/completions", method: .post, body: chatBody(",\"seed\":99" + extra))
                return try JSONValue.parse(String(buffer: response.body))
            }
            let first = try await message("")
            let second = try await message("")
            #expect(first["choices"] == second["choices"])
            #expect(first["id"] != second["id"])
            let short = try await message(",\"max_tokens\":2")
            #expect(short["usage"]?["completion_tokens"]?.intValue == 2)
            let full = first["choices"]?[0]?["message"]?["content"]?.stringValue ?? ""
            let cut = short["choices"]?[0]?["message"]?["content"]?.stringValue ?? ""
            #expect(full.hasPrefix(cut) && cut.count < full.count)
        }
    }

    @Test func toolsGiveToolCallsWithArguments() async throws {
        let tools = ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]"
        try await withMock { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: chatBody(tools)) { response in
                let json = try JSONValue.parse(String(buffer: response.body))
                let choice = json["choices"]?[0]
                #expect(choice?["finish_reason"]?.stringValue == "tool_calls")
                let call = choice?["message"]?["tool_calls"]?[0]
                #expect(call?["function"]?["name"]?.stringValue == "get_weather")
                let arguments = try JSONValue.parse(call?["function"]?["arguments"]?.stringValue ?? "")
                #expect(arguments["city"]?.stringValue != nil)
            }
        }
    }

    @Test func thinkingModelsStreamReasoningBeforeContent() async throws {
        let body = ByteBuffer(string: "{\"model\":\"kimi-k2-thinking\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
        try await withMock { client in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, body: body)
            var kinds: [String] = []
            for event in sseData(response.body).dropLast() {
                let delta = try JSONValue.parse(event)["choices"]?[0]?["delta"]
                if let text = delta?["reasoning_content"]?.stringValue, !text.isEmpty { kinds.append("r") }
                if let text = delta?["content"]?.stringValue, !text.isEmpty { kinds.append("c") }
            }
            #expect(kinds.first == "r")
            #expect(kinds.contains("c"))
            #expect(kinds.drop { $0 == "r" }.allSatisfy { $0 == "c" })
        }
    }

    @Test(arguments: [
        ("{", "not valid JSON"),
        ("{\"model\":\"kimi-latest\"}", "'messages' is required"),
        ("{\"model\":\"kimi-latest\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}", "messages[0].role must be one of"),
        ("{\"model\":\"kimi-latest\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":9}", "'n' must be between 1 and 5"),
    ])
    func invalidBodiesAre400WithAUsefulMessage(body: String, message: String) async throws {
        try await withMock { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .badRequest)
                let json = try JSONValue.parse(String(buffer: response.body))
                #expect(json["error"]?["type"]?.stringValue == "invalid_request_error")
                #expect(json["error"]?["message"]?.stringValue?.contains(message) == true)
            }
        }
    }

    @Test func requireKeyRejectsMissingAndWrongKeys() async throws {
        try await withMock({ $0.requireKey = "sk-right" }) { client in
            let missing = try await client.execute(uri: "/v1/models", method: .get)
            #expect(missing.status == .unauthorized)
            let wrong = try await client.execute(uri: "/v1/models", method: .get, headers: headers([("Authorization", "Bearer sk-wrong")]))
            #expect(wrong.status == .unauthorized)
            #expect(String(buffer: wrong.body).contains("invalid_authentication_error"))
            let right = try await client.execute(uri: "/v1/models", method: .get, headers: headers([("Authorization", "Bearer sk-right")]))
            #expect(right.status == .ok)
        }
    }

    @Test(arguments: [
        ("rate-limit", 429, "rate_limit_reached_error"), ("quota", 429, "exceeded_current_quota_error"),
        ("content-filter", 400, "content_filter"), ("unauthorized", 401, "invalid_authentication_error"),
        ("error-500", 500, "server_error"), ("error-502", 502, "nginx"), ("error-503", 503, "nginx"),
    ])
    func faultScenariosAnswerWithTheirStatus(name: String, status: Int, marker: String) async throws {
        try await withMock { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: headers([("X-Mock-Scenario", name)]), body: chatBody())
            #expect(response.status.code == status)
            #expect(String(buffer: response.body).contains(marker))
        }
    }

    @Test func unknownScenarioIsABadRequestNamingTheKnownOnes() async throws {
        try await withMock { client in
            let response = try await client.execute(
                uri: "/v1/models", method: .get, headers: headers([("X-Mock-Scenario", "nope")]))
            #expect(response.status == .badRequest)
            #expect(String(buffer: response.body).contains("rate-limit"))
        }
    }

    @Test func unknownModelIs404() async throws {
        let body = ByteBuffer(string: "{\"model\":\"gpt-x\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}")
        try await withMock { client in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, body: body)
            #expect(response.status == .notFound)
            #expect(String(buffer: response.body).contains("Not found the model gpt-x"))
        }
    }

    @Test func chunksHeaderSetsTheNumberOfContentEvents() async throws {
        try await withMock { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: headers([("X-Mock-Chunks", "50")]),
                body: chatBody(",\"stream\":true"))
            let events = sseData(response.body)
            // role + 50 content + finish + [DONE]
            #expect(events.count == 53)
        }
    }
}
