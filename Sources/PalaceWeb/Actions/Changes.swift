import Hummingbird
import PalaceIndex
import PalaceLog

/// The POST routes: mark good/bad, add/remove tags, replay. Each is CSRF-checked, then written to the log as an
/// annotation record (the same record `export --good/--bad --tag` writes), so the index, `list -p "category ==
/// 'goodcase'"` and a rebuilt index all agree.
extension PalaceWebApp {
    static let formLimit = 64 * 1024

    func change(_ id: Int64, _ action: String, _ request: Request) async throws -> Response {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: Self.formLimit) } catch {
            return page(.contentTooLarge, layout.errorPage(title: "Form too large", message: "forms are limited to 64 KiB"))
        }
        let form = FormData(bytes: Array(buffer.readableBytesView))
        if let why = access.checkPost(request, form: form) {
            return page(.forbidden, layout.errorPage(title: "Refused", message: why))
        }
        guard let summary = try await pool.run({ try $0.summary(id: id) }) else {
            return page(.notFound, layout.errorPage(title: "No exchange #\(id)", message: "There is no exchange #\(id) in this data directory."))
        }
        switch action {
        case "mark":
            let category: String
            switch form["category"] {
            case "good"?, "goodcase"?: category = "goodcase"
            case "bad"?, "badcase"?: category = "badcase"
            case "none"?, ""?: category = ""
            default:
                return page(.badRequest, layout.errorPage(title: "Unknown mark", message: "category must be good, bad or none"))
            }
            return await annotate(Annotation(exchangeID: UInt64(id), category: category), notice: "marked")
        case "tags":
            let add = Self.tags(form.all("add")), remove = Self.tags(form.all("remove"))
            if let bad = (add + remove).first(where: { $0.count > 64 }) {
                return page(.badRequest, layout.errorPage(title: "Tag too long", message: "a tag has at most 64 characters ('\(bad.prefix(20))…')"))
            }
            guard !add.isEmpty || !remove.isEmpty else {
                return page(.badRequest, layout.errorPage(title: "No tag", message: "give a tag to add (tags are separated by commas)"))
            }
            return await annotate(Annotation(exchangeID: UInt64(id), addTags: add, removeTags: remove), notice: "tagged")
        default:
            return await replay(summary)
        }
    }

    /// Tags from form values: split at commas (the index keeps tags comma-joined), trimmed, empty ones dropped.
    static func tags(_ values: [String]) -> [String] {
        var out: [String] = []
        for v in values {
            for t in v.split(separator: ",") {
                let tag = String(t).trimmed
                if !tag.isEmpty && !out.contains(tag) { out.append(tag) }
            }
        }
        return out
    }

    func annotate(_ a: Annotation, notice: String) async -> Response {
        do {
            try await actions.annotate(a)
        } catch {
            return page(.conflict, layout.errorPage(title: "Not saved", message: "The annotation could not be written to the log: \(error)"))
        }
        await feed.catchUpNow()
        return Self.redirect(options.prefix + "/x/\(a.exchangeID)?notice=\(notice)")
    }

    func replay(_ s: ExchangeSummary) async -> Response {
        guard let replay = actions.replay else {
            return page(.notImplemented, layout.errorPage(title: "Replay unavailable", message: actions.replayUnavailable))
        }
        if s.state == "in_flight" {
            return page(.conflict, layout.errorPage(title: "Still in flight", message: "#\(s.id) has not ended yet; replay it when it has"))
        }
        do {
            guard let ex = try await pool.run({ try $0.exchange(id: s.id) }) else {
                return page(.gone, layout.errorPage(title: "Records gone", message: "The log no longer holds exchange #\(s.id)'s records."))
            }
            let newID = try await replay(ex)
            await feed.catchUpNow()
            guard let newID else {
                return page(.ok, layout.errorPage(title: "Replayed", message: "#\(s.id) was sent again and recorded, but its new "
                    + "exchange was not found on the log yet; it is at the top of the list."))
            }
            return Self.redirect(options.prefix + "/x/\(newID)?notice=replayed")
        } catch {
            return page(.badGateway, layout.errorPage(title: "Replay failed", message: "Replaying #\(s.id) failed: \(error)"))
        }
    }
}
