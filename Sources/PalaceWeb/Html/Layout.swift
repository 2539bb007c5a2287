/// The page shell shared by every page: head (CSS, script), navigation, main content.
struct Layout {
    let prefix: String
    let csrf: String

    enum Section { case exchanges, stats, none }

    /// `refreshSeconds`: reload the page after that long (an exchange still in flight shows its end when it comes).
    func page(title: String, section: Section, body: String, live: Bool = false, liveQuery: String = "",
              refreshSeconds: Int? = nil) -> String {
        func nav(_ s: Section, _ href: String, _ label: String) -> String {
            "<a href=\"\(HTML.attr(prefix + href))\"\(s == section ? " class=\"on\"" : "")>\(label)</a>"
        }
        let liveAttr = live ? " data-live=\"\(HTML.attr(prefix + "/events" + (liveQuery.isEmpty ? "" : "?" + liveQuery)))\"" : ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTML.text(title)) · MoonPalace</title>
            <link rel="icon" href="data:,">\(refreshSeconds.map { "\n<meta http-equiv=\"refresh\" content=\"\($0)\">" } ?? "")
            <link rel="stylesheet" href="\(HTML.attr(prefix))/assets/app.css?v=\(Assets.version)">
            <script defer src="\(HTML.attr(prefix))/assets/app.js?v=\(Assets.version)"></script>
            </head>
            <body data-prefix="\(HTML.attr(prefix))" data-csrf="\(HTML.attr(csrf))"\(liveAttr)>
            <header class="top"><a class="brand" href="\(HTML.attr(prefix))/">MoonPalace</a>
            <nav>\(nav(.exchanges, "/", "Exchanges"))\(nav(.stats, "/stats", "Stats"))</nav>
            <span id="live" class="live\(live ? "" : " off")" title="live updates">\(live ? "live" : "")</span>
            </header>
            <main>
            \(body)
            </main>
            </body></html>

            """
    }

    /// A hidden CSRF field for POST forms.
    var csrfField: String { "<input type=\"hidden\" name=\"csrf\" value=\"\(HTML.attr(csrf))\">" }

    func errorPage(title: String, message: String) -> String {
        page(title: title, section: .none, body: """
            <section class="panel error-page"><h1>\(HTML.text(title))</h1><p>\(HTML.text(message))</p>
            <p><a href="\(HTML.attr(prefix))/">Back to the exchanges</a></p></section>
            """)
    }
}
