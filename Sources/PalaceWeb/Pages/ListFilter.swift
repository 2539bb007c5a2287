import PalaceIndex

/// The list page's filter, as it travels in the query string: the CLI's predicate language plus the form's
/// shortcuts (model, status, error step, time range, full text). The shortcuts become extra predicates, so one
/// query path (`ExchangeIndex.list` / `search`) decides everything.
struct ListFilter: Sendable, Equatable {
    var predicate = ""
    var text = ""
    var model = ""
    var status = ""
    var errorStep = ""
    var since = ""
    var until = ""
    var chatOnly = false
    var before: Int64?
    var limit = 50

    static let statuses: [(String, String)] = [
        ("", "any status"), ("2xx", "2xx"), ("4xx", "4xx"), ("5xx", "5xx"), ("error", "has an error"),
        ("ok", "no error"), ("in_flight", "in flight"), ("incomplete", "incomplete"),
    ]
    static let errorSteps = ["read_request_body", "connect", "send_request", "read_response_head",
                             "read_response_body", "client_disconnected", "timeout"]

    init() {}

    init(_ q: FormData, defaultLimit: Int) {
        predicate = q["p"] ?? ""
        text = q["q"] ?? ""
        model = (q["model"] ?? "").trimmed
        status = q["status"] ?? ""
        errorStep = q["step"] ?? ""
        since = (q["since"] ?? "").trimmed
        until = (q["until"] ?? "").trimmed
        chatOnly = q["chat"] == "1"
        before = q["before"].flatMap { Int64($0) }
        limit = min(500, max(1, q["n"].flatMap { Int($0) } ?? defaultLimit))
        if !Self.statuses.contains(where: { $0.0 == status }) && Int(status) == nil { status = "" }
        if !Self.errorSteps.contains(errorStep) { errorStep = "" }
    }

    /// The query string that reproduces this filter (paging position optional).
    func query(before: Int64? = nil, includeLimit: Bool = true) -> String {
        var pairs: [(String, String)] = [("p", predicate), ("q", text), ("model", model), ("status", status),
                                          ("step", errorStep), ("since", since), ("until", until),
                                          ("chat", chatOnly ? "1" : "")]
        if includeLimit && limit != 50 { pairs.append(("n", String(limit))) }
        if let before { pairs.append(("before", String(before))) }
        return HTML.query(pairs)
    }

    var isEmpty: Bool { self == ListFilter() || ListFilter(copyingWithoutPaging: self) == ListFilter() }

    private init(copyingWithoutPaging f: ListFilter) {
        self = f
        before = nil
        limit = 50
    }

    /// Why the filter cannot run, pointing at the form field.
    enum Problem: Error, Equatable {
        case predicate(PredicateError)
        case field(name: String, message: String)
    }

    /// The predicates the form's shortcuts stand for (the user's own predicate first).
    func predicates() throws(Problem) -> [String] {
        var out: [String] = []
        if !predicate.trimmed.isEmpty { out.append(predicate) }
        if !model.isEmpty {
            let lit = try Self.literal(model, field: "model")
            out.append(model.contains("*") ? "model ~ \(lit)" : "model == \(lit)")
        }
        switch status {
        case "": break
        case "2xx": out.append("status >= 200 && status < 300")
        case "4xx": out.append("status >= 400 && status < 500")
        case "5xx": out.append("status >= 500 && status < 600")
        case "error": out.append("status == null || status >= 400 || error != null")
        case "ok": out.append("status < 400 && error == null")
        case "in_flight": out.append("state == 'in_flight'")
        case "incomplete": out.append("state == 'incomplete'")
        default: if let n = Int(status) { out.append("status == \(n)") }
        }
        if !errorStep.isEmpty { out.append("error_step == '\(errorStep)'") }
        return out
    }

    /// A predicate string literal for a form value: single quotes, or double quotes when the value has a `'`
    /// (the language has no escapes, so a value with both cannot be written).
    static func literal(_ value: String, field: String) throws(Problem) -> String {
        if !value.contains("'") { return "'\(value)'" }
        if !value.contains("\"") { return "\"\(value)\"" }
        throw .field(name: field, message: "\(field): a value cannot contain both ' and \" (the predicate language has no escapes)")
    }

    func listQuery(limit: Int? = nil) throws(Problem) -> ListQuery {
        var since: Int64?, until: Int64?
        if !self.since.isEmpty {
            guard let t = TimeExpression.parse(Self.timeText(self.since)) else {
                throw .field(name: "since", message: Self.timeHelp("since", self.since))
            }
            since = t.start
        }
        if !self.until.isEmpty {
            guard let t = TimeExpression.parse(Self.timeText(self.until)) else {
                throw .field(name: "until", message: Self.timeHelp("until", self.until))
            }
            until = t.end
        }
        let preds = try predicates()
        do { _ = try PredicatePlan.compile(preds) } catch { throw .predicate(error) }
        return ListQuery(limit: limit ?? self.limit, beforeID: before, since: since, until: until, predicates: preds,
                         chatOnly: chatOnly, text: text.isEmpty ? nil : text)
    }

    /// Browsers' `datetime-local` sends `2026-11-29T10:15`: a local time, as the CLI reads `2026-11-29 10:15`.
    static func timeText(_ s: String) -> String {
        let hasZone = s.hasSuffix("Z") || s.dropFirst(10).contains("+") || s.dropFirst(16).contains("-")
        if s.count >= 16, s.count <= 19, !hasZone, let t = s.firstIndex(of: "T") {
            var r = s
            r.replaceSubrange(t...t, with: " ")
            return r
        }
        return s
    }

    static func timeHelp(_ field: String, _ value: String) -> String {
        "\(field): cannot read \"\(value)\" as a time; use YYYY-MM-DD, 'YYYY-MM-DD HH:MM:SS', RFC 3339 or an age like 30m, 2h, 3d"
    }
}

extension String {
    var trimmed: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
