import CCurlShim

/// Where an exchange failed. The raw values are the step names stored in `ExchangeFailure.step` and sent to the
/// client as the `type` of MoonPalace's `proxy_server_error` JSON.
public enum ExchangeStep: String, Sendable, CaseIterable {
    case readRequestBody = "read_request_body"
    case connect = "connect"
    case sendRequest = "send_request"
    case readResponseHead = "read_response_head"
    case readResponseBody = "read_response_body"
    case clientDisconnected = "client_disconnected"
    case timeout = "timeout"
}

/// A failed upstream call: the step it failed in and a message a person can act on.
public struct UpstreamFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var step: ExchangeStep
    public var message: String

    public init(step: ExchangeStep, message: String) {
        self.step = step
        self.message = message
    }

    public var description: String { "\(step.rawValue): \(message)" }

    /// Maps a curl result to a step. `headReceived` tells whether the response head had arrived, `uploadDone`
    /// whether curl had consumed the whole request body.
    static func from(code: CURLcode, errorBuffer: String, url: String, headReceived: Bool, uploadDone: Bool) -> UpstreamFailure {
        let curlText = String(cString: curl_easy_strerror(code))
        let detail = errorBuffer.isEmpty ? curlText : errorBuffer
        let step: ExchangeStep
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            step = .timeout
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT,
             CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
             CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            step = .connect
        case CURLE_SEND_ERROR, CURLE_READ_ERROR, CURLE_ABORTED_BY_CALLBACK, CURLE_SEND_FAIL_REWIND:
            step = headReceived ? .readResponseBody : .sendRequest
        default:
            step = headReceived ? .readResponseBody : (uploadDone ? .readResponseHead : .sendRequest)
        }
        return UpstreamFailure(step: step, message: "\(detail) (upstream \(url))")
    }
}
