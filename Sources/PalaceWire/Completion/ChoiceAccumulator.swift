/// One choice of a stream being merged: its message, finish reason, logprobs, per-choice usage and other members.
struct ChoiceAccumulator: Sendable {
    let index: Int
    let indexValue: JSONValue
    var message = MessageAccumulator()
    var finishReason: JSONValue = .null
    var usage: JSONValue?
    var logprobsSeen = false
    var logprobArrays: [String: [JSONValue]] = [:]
    var logprobs = JSONObject()   // member order; array members hold a placeholder until `result()`
    var extras = JSONObject()

    init(index: Int, indexValue: JSONValue) {
        self.index = index
        self.indexValue = indexValue
    }

    mutating func add(_ choice: JSONObject) {
        for (key, value) in choice {
            switch key {
            case "index":
                continue
            case "delta", "message":
                if case .object(let delta) = value { message.add(delta) }
            case "finish_reason":
                if !value.isNull { finishReason = value }
            case "usage":
                if case .object = value { usage = value }
            case "logprobs":
                addLogprobs(value)
            default:
                extras.mergeLastNonNull(key, value)
            }
        }
    }

    mutating func addLogprobs(_ value: JSONValue) {
        logprobsSeen = true
        guard case .object(let object) = value else { return }
        for (key, item) in object {
            if case .array(let items) = item {
                if !logprobs.contains(key) { logprobs.appendNew(key, .null) }
                logprobArrays[key, default: []].append(contentsOf: items)
            } else if logprobArrays[key] == nil {
                logprobs.mergeLastNonNull(key, item)
            }
        }
    }

    /// The merged `logprobs` member (nil when no chunk had one).
    var logprobsValue: JSONValue? {
        guard logprobsSeen else { return nil }
        if logprobs.isEmpty { return .null }
        var merged = logprobs
        for (key, items) in logprobArrays { merged.set(key, .array(items)) }
        return .object(merged)
    }

    static let fixedKeys: Set<String> = ["index", "message", "logprobs", "finish_reason"]

    func result() -> JSONObject {
        var out = JSONObject()
        out.appendNew("index", indexValue)
        out.appendNew("message", .object(message.result()))
        if let logprobsValue { out.appendNew("logprobs", logprobsValue) }
        out.appendNew("finish_reason", finishReason)
        for (key, value) in extras where !out.contains(key) { out.appendNew(key, value) }
        return out
    }

    /// Writes `result()`'s JSON directly.
    func write(to w: inout JSONWriter) {
        w.append(#"{"index":"#)
        w.write(indexValue, level: 0)
        w.append(#","message":"#)
        message.write(to: &w)
        let lp = logprobsValue
        if let lp {
            w.append(#","logprobs":"#)
            w.write(lp, level: 0)
        }
        w.append(#","finish_reason":"#)
        w.write(finishReason, level: 0)
        for (key, value) in extras where !Self.fixedKeys.contains(key) || (key == "logprobs" && lp == nil) {
            w.member(key)
            w.write(value, level: 0)
        }
        w.out.append(UInt8(ascii: "}"))
    }
}
