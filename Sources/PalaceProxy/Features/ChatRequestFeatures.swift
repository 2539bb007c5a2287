import Hummingbird
import PalaceLog

/// The request side of the chat-completion features for one exchange: which apply, and the rewrites.
///
/// Only `POST …/chat/completions` is touched. Force-stream and auto-cache need the whole body (read up to
/// `wholeBodyLimit`; a larger body is forwarded untouched, and the log block says why). The client's original
/// body is what the record keeps; only the upstream copy is rewritten.
struct ChatRequestFeatures {
    static let wholeBodyLimit = 32 << 20

    let context: ProxyContext
    let isChat: Bool
    /// Force-stream or auto-cache will read the body.
    let needsWholeBody: Bool
    /// The repeat detector may cut the stream: the client must get decoded (identity) bytes.
    let decodesForClient: Bool

    init(context: ProxyContext, method: String, target: String) {
        self.context = context
        isChat = ForceStream.isChatCompletion(method: method, target: target)
        let config = context.config
        needsWholeBody = isChat && (config.forceStream || config.autoCache != nil)
        decodesForClient = isChat && config.repeatDetection != nil
    }

    /// The body to send upstream instead of the client's, when force-stream rewrote it (nil = send as received).
    func forceStream(body: ByteBuffer, complete: Bool, exchange: ExchangeState) -> ByteBuffer? {
        guard needsWholeBody else { return nil }
        guard complete else {
            exchange.chat.notes.append("request body larger than \(Self.wholeBodyLimit >> 20) MiB: "
                + "force-stream and auto-cache were not applied")
            return nil
        }
        guard context.config.forceStream, let rewritten = ForceStream.rewrite(Array(body.readableBytesView)) else { return nil }
        exchange.chat.forcedStream = true
        return ByteBuffer(bytes: rewritten)
    }

    /// `X-Msh-Context-Cache` / `-Reset-TTL` for this request when auto-cache finds or creates a cache; [] otherwise.
    func cacheHeaders(body: ByteBuffer, complete: Bool, exchange: ExchangeState) async -> [HeaderField] {
        guard needsWholeBody, complete, let cache = context.autoCache else { return [] }
        let outcome = await cache.prepare(body: Array(body.readableBytesView), authorization: exchange.authorization)
        if let note = outcome.note { exchange.chat.notes.append(note) }
        exchange.chat.cacheID = outcome.cacheID
        return outcome.headers
    }
}
