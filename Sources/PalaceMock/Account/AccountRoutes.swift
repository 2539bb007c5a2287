import HTTPTypes
import Hummingbird
import PalaceWire

/// `GET /v1/models`, `GET /v1/models/{id}`, `GET /v1/users/me/balance`, `POST /v1/tokenizers/estimate-token-count`.
struct AccountRoutes: Sendable {
    let gate: Gate
    let state: MockState

    func register(on router: Router<MockRequestContext>) {
        router.get("/v1/models") { request, _ in
            await gate.serve(request) { _ in JSONResponse.make(ModelCatalog.listJSON) }
        }
        router.get("/v1/models/{id}") { request, context in
            await gate.serve(request) { _ in
                let id = context.parameters.get("id") ?? ""
                guard case .array(let all)? = ModelCatalog.listJSON["data"],
                    let model = all.first(where: { $0["id"]?.stringValue == id })
                else { throw APIError.notFound("Not found the model \(id) or Permission denied") }
                return JSONResponse.make(model)
            }
        }
        router.get("/v1/users/me/balance") { request, _ in
            await gate.serve(request) { _ in
                JSONResponse.make(text: """
                    {"code":0,"data":{"available_balance":49.58894,"voucher_balance":46.58893,"cash_balance":3.00001},"scode":"0x0","status":true}
                    """)
            }
        }
        router.post("/v1/tokenizers/estimate-token-count") { request, _ in
            await gate.serve(request) { _ in
                let chat = try ChatRequest.parse(try await Gate.body(of: request, limit: ChatRoutes.bodyLimit))
                let total = TokenEstimator.estimate(messages: chat.messages, tools: chat.toolsJSON)
                return JSONResponse.make(text: "{\"data\":{\"total_tokens\":\(total)}}")
            }
        }
    }
}
