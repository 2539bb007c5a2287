import HTTPTypes
import Hummingbird
import PalaceWire

/// Small helpers shared by the non-chat routes (their bodies are built as `JSONValue` trees: not a hot path).
enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        make(text: value.serialized(), status: status)
    }

    static func make(text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func object(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue {
        var object = JSONObject()
        for (key, value) in pairs { object.set(key, value) }
        return .object(object)
    }

    /// `{"object":"list","data":[…],"has_more":…}`. `has_more` matters: SDKs auto-paginate with `after=<last id>`
    /// while it is absent or true, so a list that ignores `after` must say there is nothing more.
    static func list(_ items: [JSONValue], hasMore: Bool = false) -> JSONValue {
        object(["object": .string("list"), "data": .array(items), "has_more": .bool(hasMore)])
    }

    static func int(_ value: Int) -> JSONValue { .number(String(value)) }
}
