import PalaceLog
import PalaceWire

/// A recorded request made ready to send again (`moonpalace replay`), optionally edited.
///
/// Headers: the recorded ones without hop-by-hop headers, Host, Content-Length, Accept-Encoding (curl negotiates)
/// and the recorded (masked, hence useless) Authorization; `key` (when given) becomes `Authorization: Bearer key`.
public struct ReplayRequest: Sendable {
    public var originalID: UInt64
    public var method: String
    /// Path and query, as recorded.
    public var target: String
    public var headers: [HeaderField]
    public var body: [UInt8]

    public init(originalID: UInt64, begin: ExchangeBegin, requestBody: [UInt8], key: String?) {
        self.originalID = originalID
        method = begin.method
        target = begin.target
        let drop: Set<String> = ["authorization", "host", "content-length", "accept-encoding", "connection", "keep-alive",
                                 "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "expect",
                                 "proxy-authorization"]
        headers = begin.requestHeaders.filter {
            !drop.contains($0.name.lowercased()) && !$0.name.lowercased().hasPrefix("x-moonpalace-")
        }
        if let key, !key.isEmpty { headers.append(HeaderField(name: "Authorization", value: "Bearer \(key)")) }
        body = requestBody
    }

    /// Applies `--set PATH=VALUE` edits to the JSON body, in order. PATH is dotted (`temperature`,
    /// `messages.0.content`, `messages.-1.content`); VALUE is JSON when it parses as JSON (`0`, `true`, `null`,
    /// `{"type":"json_object"}`), else a string. Missing objects along the path are created.
    public mutating func apply(sets: [String]) throws {
        guard !sets.isEmpty else { return }
        guard var root = try? JSONValue.parse(body), case .object = root else {
            throw ReplayError("--set needs a JSON object body, but the recorded request body of exchange \(originalID) is not one")
        }
        for s in sets {
            guard let eq = s.firstIndex(of: "="), eq != s.startIndex else {
                throw ReplayError("--set \"\(s)\": expected JSONPATH=VALUE, e.g. --set temperature=0")
            }
            let path = JSONPath.parse(String(s[..<eq]))
            let text = String(s[s.index(after: eq)...])
            let value = (try? JSONValue.parse(text)) ?? .string(text)
            root = try Self.set(root, path[...], value, whole: s)
        }
        body = root.serializedBytes()
    }

    static func set(_ node: JSONValue, _ path: ArraySlice<JSONPathComponent>, _ value: JSONValue, whole: String) throws -> JSONValue {
        guard let step = path.first else { return value }
        let rest = path.dropFirst()
        switch (step, node) {
        case (.key(let k), .object(var o)):
            o.set(k, try set(o[k] ?? .object(JSONObject()), rest, value, whole: whole))
            return .object(o)
        case (.key(let k), .null):
            return .object(JSONObject([(k, try set(.object(JSONObject()), rest, value, whole: whole))]))
        case (.index(let i), .array(var xs)):
            let at = i < 0 ? xs.count + i : i
            if at == xs.count { xs.append(try set(.object(JSONObject()), rest, value, whole: whole)); return .array(xs) }
            guard at >= 0 && at < xs.count else {
                throw ReplayError("--set \"\(whole)\": index \(i) is outside the array (\(xs.count) elements)")
            }
            xs[at] = try set(xs[at], rest, value, whole: whole)
            return .array(xs)
        default:
            throw ReplayError("--set \"\(whole)\": cannot step into \(step) here (the body has a different shape)")
        }
    }
}
