import Synchronization

/// The log behind `GET /_mock/events`: what happened to held requests, in order (the newest 10,000 kept).
final class DebugEvents: Sendable {
    struct Entry: Sendable {
        var seq: Int
        var tag: String
        var event: String
        var at: String
        var heldMs: Int?
        var how: String?
    }

    static let capacity = 10_000
    private let log = Mutex<(next: Int, entries: [Entry])>((1, []))

    func record(tag: String, event: String, heldMs: Int? = nil, how: String? = nil) {
        let at = WallClock.nowMicrosecondsText()
        log.withLock { log in
            log.entries.append(Entry(seq: log.next, tag: tag, event: event, at: at, heldMs: heldMs, how: how))
            log.next += 1
            if log.entries.count > Self.capacity { log.entries.removeFirst(log.entries.count - Self.capacity) }
        }
    }

    func record(tag: String, _ outcome: ConnectionWatch.Outcome) {
        switch outcome {
        case .closed(let how, let ms): record(tag: tag, event: "closed", heldMs: ms, how: how)
        case .released(let ms): record(tag: tag, event: "released", heldMs: ms)
        }
    }

    /// `{"events":[…]}`, only `tag`'s when given.
    func json(tag: String?) -> String {
        let entries = log.withLock { $0.entries }
        let items = entries.filter { tag == nil || $0.tag == tag! }.map { entry in
            var item = "{\"seq\":\(entry.seq),\"tag\":\(JSONText.quoted(entry.tag)),\"event\":\(JSONText.quoted(entry.event))"
            item += ",\"at\":\(entry.at)"
            if let ms = entry.heldMs { item += ",\"held_ms\":\(ms)" }
            if let how = entry.how { item += ",\"how\":\(JSONText.quoted(how))" }
            return item + "}"
        }
        return "{\"events\":[" + items.joined(separator: ",") + "]}"
    }
}
