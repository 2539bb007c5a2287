import PalaceWire

/// The mock's tokenizer estimate: one token per CJK character, one per ~4 bytes of other text, plus a small
/// per-message overhead. Used both for `prompt_tokens` and `POST /v1/tokenizers/estimate-token-count`, so the
/// two always agree.
enum TokenEstimator {
    static let perMessageOverhead = 4

    static func estimate(text: String) -> Int {
        var cjk = 0
        var otherBytes = 0
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if (0x3000...0x9FFF).contains(value) || (0xF900...0xFAFF).contains(value) || (0xFF00...0xFFEF).contains(value) {
                cjk += 1
            } else {
                otherBytes += scalar.utf8.count
            }
        }
        return cjk + (otherBytes + 3) / 4
    }

    static func estimate(messages: [JSONValue], tools: JSONValue?) -> Int {
        var total = 0
        for message in messages {
            total += perMessageOverhead
            switch message["content"] {
            case .string(let text)?: total += estimate(text: text)
            case .array(let parts)?:
                for part in parts {
                    if let text = part["text"]?.stringValue { total += estimate(text: text) } else { total += 85 }
                }
            default: break
            }
            if let calls = message["tool_calls"], !calls.isNull { total += estimate(text: calls.serialized()) }
            if let name = message["name"]?.stringValue { total += estimate(text: name) }
        }
        if let tools, !tools.isNull { total += estimate(text: tools.serialized()) }
        return max(total, 1)
    }
}
