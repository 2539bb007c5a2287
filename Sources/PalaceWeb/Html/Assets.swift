/// The stylesheet and script, shipped inside the binary (no npm, no CDN: the admin works offline).
enum Assets {
    /// Changes whenever the files change, so browsers never use a stale copy.
    static let version = String(UInt32(truncatingIfNeeded: fnv(css + js)), radix: 36)

    static func fnv(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h
    }

    static let css = #"""
    :root { --bg: #f7f7f9; --fg: #1d1f24; --muted: #6b7080; --panel: #fff; --line: #e2e4ea; --accent: #3a5bd9;
      --good: #1f8a4c; --bad: #c23b3b; --warn: #a86b00; --inflight: #3a5bd9; --code: #f1f2f6;
      --s0: #3a5bd9; --s1: #e07b39; --s2: #2a9d8f; --s3: #c23b7a; --s4: #8a6cd1; --s5: #7a8b23; --s6: #d4a017; --s7: #5c6b7a; }
    @media (prefers-color-scheme: dark) { :root { --bg: #15171c; --fg: #e4e6ec; --muted: #9aa0ad; --panel: #1d2027;
      --line: #2e323c; --accent: #7d97ff; --code: #242832; --inflight: #7d97ff; } }
    * { box-sizing: border-box; }
    body { margin: 0; background: var(--bg); color: var(--fg);
      font: 14px/1.55 system-ui, -apple-system, "Segoe UI", "Noto Sans", "PingFang SC", "Hiragino Sans GB",
        "Noto Sans CJK SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; }
    a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
    code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", "Noto Sans Mono CJK SC", monospace; font-size: 12.5px; }
    header.top { display: flex; align-items: center; gap: 18px; padding: 8px 18px; background: var(--panel); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 2; }
    .brand { font-weight: 700; color: var(--fg); } nav a { margin-right: 12px; color: var(--muted); } nav a.on { color: var(--fg); font-weight: 600; }
    .live { margin-left: auto; font-size: 12px; color: var(--muted); } .live.on::before { content: "●"; color: var(--good); margin-right: 4px; }
    .live.off { display: none; } .live.lost::before { content: "●"; color: var(--bad); margin-right: 4px; }
    main { padding: 14px 18px; max-width: 1500px; margin: 0 auto; }
    .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; margin-bottom: 12px; }
    h1 { font-size: 18px; margin: 4px 0; word-break: break-all; } h2 { font-size: 15px; margin: 2px 0 8px; }
    .filters .row { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-end; margin-bottom: 6px; }
    .filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
    .filters label.grow { flex: 1 1 420px; } .filters label.check { flex-direction: row; align-items: center; gap: 4px; }
    input, select, button { font: inherit; padding: 4px 7px; border: 1px solid var(--line); border-radius: 4px; background: var(--panel); color: var(--fg); }
    input.invalid { border-color: var(--bad); outline: 1px solid var(--bad); }
    button { cursor: pointer; background: var(--code); } button:hover { border-color: var(--accent); }
    button.on { border-color: var(--accent); font-weight: 600; } button:disabled { opacity: .5; cursor: not-allowed; }
    .reset { font-size: 12px; } .downloads { font-size: 12px; color: var(--muted); } .downloads a { margin-left: 8px; }
    .problem { border-color: var(--bad); color: var(--bad); } .notice { border-color: var(--accent); }
    .predicate-error pre.caret { color: var(--fg); background: var(--code); padding: 6px 8px; margin: 6px 0 0; overflow-x: auto; }
    .predicate-error mark { background: var(--bad); color: #fff; }
    .predicate-check { font-size: 12px; min-height: 1em; color: var(--bad); white-space: pre; font-family: ui-monospace, monospace; overflow-x: auto; }
    table.list { width: 100%; border-collapse: collapse; background: var(--panel); border: 1px solid var(--line); }
    table.list th { text-align: left; font-weight: 600; font-size: 12px; color: var(--muted); padding: 5px 8px; border-bottom: 1px solid var(--line); }
    table.list td { padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
    table.list tr.x:hover { background: var(--code); } td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
    td.id, td.time { white-space: nowrap; } td.req { word-break: break-all; } td.req .method { font-weight: 600; color: var(--muted); }
    tr.err td.id a { color: var(--bad); } tr.inflight { background: color-mix(in srgb, var(--inflight) 8%, transparent); }
    tr.fresh { animation: fresh 2s ease-out; } @keyframes fresh { from { background: color-mix(in srgb, var(--good) 25%, transparent); } }
    tr.snippet td { font-size: 12.5px; color: var(--muted); border-bottom: 1px solid var(--line); padding-top: 0; }
    mark { background: #ffe27a; color: #1d1f24; border-radius: 2px; padding: 0 1px; }
    .badge { display: inline-block; font-size: 11.5px; padding: 0 6px; border-radius: 9px; background: var(--code); white-space: nowrap; }
    .badge.s2 { color: var(--good); } .badge.s3 { color: var(--warn); } .badge.s4, .badge.s5 { color: #fff; background: var(--bad); }
    .badge.inflight { color: #fff; background: var(--inflight); animation: pulse 1.2s infinite; } .badge.incomplete { color: #fff; background: var(--warn); }
    .badge.stream { color: var(--accent); } @keyframes pulse { 50% { opacity: .55; } }
    .cat { font-size: 11.5px; padding: 0 6px; border-radius: 9px; color: #fff; } .cat.good { background: var(--good); } .cat.bad { background: var(--bad); }
    .tag { font-size: 11.5px; padding: 0 6px; border-radius: 9px; border: 1px solid var(--line); margin-left: 3px; }
    .pager { display: flex; gap: 16px; padding: 10px 0; align-items: center; } .pager .count { color: var(--muted); font-size: 12px; }
    .empty { color: var(--muted); padding: 20px; text-align: center; }
    .xhead .sub { color: var(--muted); display: flex; gap: 8px; flex-wrap: wrap; align-items: center; }
    .xhead .id { color: var(--muted); } .xhead .method { color: var(--accent); }
    .actions { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; } form.inline { display: inline-flex; gap: 4px; align-items: center; margin: 0; }
    button.good.on { background: var(--good); color: #fff; } button.bad.on { background: var(--bad); color: #fff; }
    .tag-remove { font-size: 12px; padding: 1px 6px; border-radius: 9px; }
    dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; } dt { color: var(--muted); } dd { margin: 0; word-break: break-all; }
    .failure { margin-top: 10px; padding: 8px 10px; border-left: 3px solid var(--bad); background: var(--code); }
    .warnings li, .warn { color: var(--warn); } .meta { color: var(--muted); font-size: 12px; }
    .conversation { display: flex; flex-direction: column; gap: 8px; }
    .msg { border: 1px solid var(--line); border-left-width: 4px; border-radius: 6px; padding: 6px 10px; }
    .msg.system { border-left-color: var(--s7); } .msg.user { border-left-color: var(--s0); } .msg.assistant { border-left-color: var(--s2); }
    .msg.tool { border-left-color: var(--s1); } .msg.answer { background: color-mix(in srgb, var(--s2) 6%, transparent); } .msg.error { border-left-color: var(--bad); }
    .msg .role { font-weight: 600; font-size: 12px; text-transform: lowercase; color: var(--muted); display: flex; gap: 8px; }
    .msg .role .label { font-weight: 400; } .msg .text { white-space: pre-wrap; word-break: break-word; line-height: 1.65; font-size: 14.5px; }
    .reasoning summary { cursor: pointer; color: var(--muted); font-size: 12.5px; } .reasoning .text { color: var(--muted); font-size: 13.5px; }
    .toolcall { margin-top: 6px; } .toolcall .fn { font-size: 12.5px; }
    pre { background: var(--code); padding: 8px 10px; border-radius: 4px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; margin: 4px 0; }
    pre.headers { color: var(--muted); } .truncated { font-size: 12.5px; color: var(--warn); }
    details summary { cursor: pointer; } table.events { font-size: 12px; border-collapse: collapse; width: 100%; }
    table.events td, table.events th { padding: 2px 6px; border-bottom: 1px solid var(--line); text-align: left; } td.evtext { word-break: break-all; }
    svg.timeline, svg.growth { max-width: 900px; display: block; }
    svg .axis, svg .grid { stroke: var(--line); stroke-width: 1; } svg .mark { stroke: var(--fg); stroke-width: 1.5; }
    svg .ev { stroke: var(--s0); stroke-width: 1; } p.placement { margin: 2px 0 6px; }
    svg .gen { fill: color-mix(in srgb, var(--s2) 45%, transparent); } svg .lbl { fill: var(--muted); font-size: 11px; }
    svg .line { fill: none; stroke: var(--s0); stroke-width: 1.5; } svg polyline.ln { fill: none; stroke-width: 1.8; }
    .s0 { fill: var(--s0); stroke: var(--s0); } .s1 { fill: var(--s1); stroke: var(--s1); } .s2 { fill: var(--s2); stroke: var(--s2); }
    .s3 { fill: var(--s3); stroke: var(--s3); } .s4 { fill: var(--s4); stroke: var(--s4); } .s5 { fill: var(--s5); stroke: var(--s5); }
    .s6 { fill: var(--s6); stroke: var(--s6); } .s7 { fill: var(--s7); stroke: var(--s7); } polyline.ln { fill: none !important; }
    .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 12px; margin-bottom: 12px; }
    figure.chart { margin: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
    figcaption { font-weight: 600; font-size: 13px; } .legend { font-size: 12px; display: flex; flex-wrap: wrap; gap: 10px; }
    .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; background: currentColor; }
    .legend .s0 { color: var(--s0); } .legend .s1 { color: var(--s1); } .legend .s2 { color: var(--s2); } .legend .s3 { color: var(--s3); }
    .legend .s4 { color: var(--s4); } .legend .s5 { color: var(--s5); } .legend .s6 { color: var(--s6); } .legend .s7 { color: var(--s7); }
    .legend .dashed i { height: 0; border-top: 2px dashed currentColor; background: none; border-radius: 0; vertical-align: middle; }
    table.compare { border-collapse: collapse; } table.compare th, table.compare td { text-align: left; padding: 2px 14px 2px 0; }
    table.compare tr.changed td { font-weight: 600; color: var(--warn); }
    .summary { font-size: 15px; } .error-page { max-width: 720px; }
    """#

    static let js = #"""
    "use strict";
    (function () {
      const body = document.body, prefix = body.dataset.prefix || "/palace";
      // Live arrival: the server sends one rendered row per new or changed exchange that matches this page's filter.
      const liveURL = body.dataset.live, badge = document.getElementById("live");
      if (liveURL && window.EventSource) {
        const tbody = document.querySelector("#rows tbody");
        const es = new EventSource(liveURL);
        es.addEventListener("open", () => { badge.className = "live on"; badge.textContent = "live"; });
        es.addEventListener("error", () => { badge.className = "live lost"; badge.textContent = "reconnecting"; });
        es.addEventListener("row", (ev) => {
          const msg = JSON.parse(ev.data);
          const tpl = document.createElement("template");
          tpl.innerHTML = msg.html.trim();
          const fresh = tpl.content.firstElementChild;
          if (!fresh || !tbody) return;
          const old = document.getElementById("x" + msg.id);
          if (old) {
            const snip = old.nextElementSibling;
            if (snip && snip.classList.contains("snippet")) snip.remove();
            old.replaceWith(...tpl.content.childNodes);
          } else {
            let before = null;
            for (const tr of tbody.querySelectorAll("tr.x")) { if (Number(tr.dataset.id) < msg.id) { before = tr; break; } }
            const nodes = Array.from(tpl.content.childNodes);
            for (const n of nodes) tbody.insertBefore(n, before);
            fresh.classList.add("fresh");
            const empty = document.getElementById("empty"); if (empty) empty.remove();
          }
        });
        es.addEventListener("gone", (ev) => { const tr = document.getElementById("x" + JSON.parse(ev.data).id); if (tr) tr.remove(); });
      }
      // Predicate box: checked as you type, the error shown under it with a caret at its column.
      const input = document.getElementById("predicate"), out = document.getElementById("predicate-check");
      if (input && out) {
        let timer = 0, seq = 0;
        const check = () => {
          const mine = ++seq, text = input.value;
          if (!text.trim()) { out.textContent = ""; input.classList.remove("invalid"); return; }
          fetch(prefix + "/api/predicate?p=" + encodeURIComponent(text), { credentials: "same-origin" })
            .then((r) => r.json()).then((r) => {
              if (mine !== seq) return;
              if (r.ok) { out.textContent = ""; input.classList.remove("invalid"); return; }
              input.classList.add("invalid");
              const col = r.column, chars = Array.from(text);
              let pad = "";
              for (const ch of chars.slice(0, col - 1)) pad += /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]/.test(ch) ? "  " : " ";
              out.textContent = "predicate: " + r.message + " at column " + col + "\n" + text.replace(/[\t\r\n]/g, " ") + "\n" + pad + "^";
            }).catch(() => {});
        };
        input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 250); });
      }
      // Forms that change or send something ask first when they say so.
      for (const f of document.querySelectorAll("form[data-confirm]")) {
        f.addEventListener("submit", (e) => { if (!confirm(f.dataset.confirm)) e.preventDefault(); });
      }
    })();
    """#
}
