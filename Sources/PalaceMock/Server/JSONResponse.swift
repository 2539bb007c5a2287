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

    static func list(_ items: [JSONValue]) -> JSONValue {
        object(["object": .string("list"), "data": .array(items)])
    }

    static func int(_ value: Int) -> JSONValue { .number(String(value)) }
}
