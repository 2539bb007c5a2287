"""The web admin (/palace/) end to end: the real binary (`start` with the admin mounted, and `web` alone), real
traffic through the proxy from the official OpenAI SDK, every route over real sockets."""
import json
import re
import subprocess
import time
import urllib.parse

import pytest

from test_web_util import (ZH_QUESTION, fetch, fill, log_annotations, row_ids, sse_events, start_web_alone,
                           start_web_proxy, wait_until)


@pytest.fixture(scope="module")
def filled(moonpalace_bin, tmp_path_factory):
    """A proxy (mock upstream) with the admin mounted, and varied traffic through it."""
    from conftest import _launch, _stop
    mock = _launch([moonpalace_bin, "mock", "--port", "0"], r"(http://127\.0\.0\.1:\d+/v1)", 30, {})
    data = tmp_path_factory.mktemp("web")
    web = start_web_proxy(moonpalace_bin, mock.match.group(1), data)
    sent = fill(web.base_url)
    def settled():
        page = web.get("/palace/").text
        return len(row_ids(page)) >= sent["exchanges"] and "inflight" not in page
    assert wait_until(settled, timeout=15)
    web.sent = sent
    yield web
    web.stop()
    _stop(mock.popen)


def ids_by(web, query):
    r = web.get("/palace/?" + urllib.parse.urlencode(query))
    assert r.status == 200, r.text[:800]
    return row_ids(r.text)


def test_list_newest_first_with_timing_header(filled):
    r = filled.get("/palace/")
    assert r.status == 200 and r.header("Content-Type").startswith("text/html")
    ids = row_ids(r.text)
    assert ids == sorted(ids, reverse=True) and len(ids) >= 6
    assert re.match(r"app;dur=\d", r.header("Server-Timing"))
    assert "script-src 'self'" in r.header("Content-Security-Policy")
    assert filled.get("/palace").status == 303                      # the bare prefix redirects to the list
    assert filled.get("/palace/assets/app.js").status == 200
    assert "EventSource" in filled.get("/palace/assets/app.js").text


def test_filters_model_status_error_and_text(filled):
    everything = ids_by(filled, {})
    k2 = ids_by(filled, {"model": "kimi-k2*"})
    assert len(k2) == 1 and k2[0] in everything
    errors = ids_by(filled, {"status": "error"})
    assert len(errors) == 1
    assert ids_by(filled, {"status": "5xx"}) == errors
    assert ids_by(filled, {"status": "500"}) == errors
    assert set(ids_by(filled, {"status": "ok"})) == set(everything) - set(errors)
    assert ids_by(filled, {"p": "status >= 400"}) == errors
    assert ids_by(filled, {"p": "request_body.messages.0.role == 'system'"}) == [min(everything)]
    # full text: Chinese substring, highlighted in the snippet
    r = filled.get("/palace/?" + urllib.parse.urlencode({"q": "月之暗面"}))
    assert r.status == 200 and len(row_ids(r.text)) == 1
    assert "<mark>月之暗面</mark>" in r.text
    # time range: nothing before 2001, everything since a day ago
    assert ids_by(filled, {"until": "2001-01-01"}) == []
    assert ids_by(filled, {"since": "1d"}) == everything
    assert ids_by(filled, {"since": "1d", "chat": "1"}) == everything      # all traffic was chat completions


def test_bad_predicate_error_at_its_column(filled):
    r = filled.get("/palace/?" + urllib.parse.urlencode({"p": "status == 200 && model ="}))
    assert r.status == 400
    assert 'id="problem"' in r.text and "at column" in r.text
    col = int(re.search(r'data-column="(\d+)"', r.text).group(1))
    assert col == len("status == 200 && model =")                      # the lone '=' (1-based column)
    assert "<mark>=</mark>" in r.text
    r = filled.get("/palace/?" + urllib.parse.urlencode({"p": "no_such_field == 1"}))
    assert r.status == 400 and "no_such_field" in r.text
    api = json.loads(filled.get("/palace/api/predicate?" + urllib.parse.urlencode({"p": "status >="})).text)
    assert api["ok"] is False and api["column"] == len("status >=") + 1
    assert json.loads(filled.get("/palace/api/predicate?p=status%20%3E%3D%20400").text) == {"ok": True}
    r = filled.get("/palace/?" + urllib.parse.urlencode({"since": "yesterday-ish"}))
    assert r.status == 400 and "since: cannot read" in r.text
    r = filled.get("/palace/?" + urllib.parse.urlencode({"model": "a'b\"c"}))
    assert r.status == 400 and "both" in r.text


def test_keyset_paging_visits_every_row_once(filled):
    everything = ids_by(filled, {})
    seen, url = [], "/palace/?n=2"
    for _ in range(20):
        r = filled.get(url)
        page = row_ids(r.text)
        assert len(page) <= 2
        seen += page
        m = re.search(r'id="older" href="([^"]+)"', r.text)
        if not m:
            break
        url = m.group(1).replace("&amp;", "&")
    assert seen == everything


def test_exchange_page_conversation_and_raw(filled):
    everything = ids_by(filled, {})
    first = min(everything)                                             # the Chinese system + user exchange
    r = filled.get(f"/palace/x/{first}")
    assert r.status == 200
    assert 'class="msg system' in r.text and 'class="msg user' in r.text and 'class="msg assistant answer' in r.text
    assert ZH_QUESTION in r.text                                         # Chinese as text, not \\u escapes
    assert "\\u6708" not in r.text
    assert re.search(r"(?i)authorization: Bearer \*{8,}1234", r.text) and "sk-web-test-key" not in r.text
    assert "HTTP/1.1 200 OK" in r.text
    # the stream: timeline with TTFT, merged completion
    stream = ids_by(filled, {"model": "kimi-k2*"})[0]
    r = filled.get(f"/palace/x/{stream}")
    assert 'id="timeline"' in r.text and 'id="ttft"' in r.text and "Merged completion" in r.text
    assert '"object": "chat.completion"' in r.text
    # events drawn at their recorded arrival (the mock paced 25 chunks 20 ms apart): times rise, spread ≥ 24 × 20 ms
    assert 'data-placement="arrival"' in r.text and 'class="ev"' in r.text
    times = [float(t) for t in re.findall(r'<tr(?: class="done")?><td>\d+</td><td class="num">([\d.]+) ms</td>', r.text)]
    assert len(times) >= 25 and times == sorted(times) and times[-1] - times[0] >= 400, times
    # tool call pretty JSON, then the tool message in the follow-up
    tool = ids_by(filled, {"p": "response_body.choices.0.finish_reason == 'tool_calls'"})
    assert tool, "the mock answered the tools request with a tool call"
    r = filled.get(f"/palace/x/{tool[0]}")
    assert 'class="toolcall"' in r.text and "get_weather" in r.text
    follow = ids_by(filled, {"p": "request_body.messages.-1.role == 'tool'"})
    r = filled.get(f"/palace/x/{follow[0]}")
    assert 'class="msg tool' in r.text and "晴" in r.text
    # the failure
    err = ids_by(filled, {"status": "error"})[0]
    r = filled.get(f"/palace/x/{err}")
    assert r.status == 200 and "HTTP/1.1 500" in r.text


def test_huge_body_truncated_with_raw_link(filled):
    huge = ids_by(filled, {"model": "moonshot-v1-32k"})[0]
    r = filled.get(f"/palace/x/{huge}")
    assert r.status == 200
    assert "Showing the first" in r.text and f'href="/palace/x/{huge}/raw/request"' in r.text
    assert "END-OF-HUGE" not in r.text                                 # cut for display
    assert len(r.body) < 1_500_000
    raw = filled.get(f"/palace/x/{huge}/raw/request")
    assert raw.status == 200 and raw.header("Content-Type").startswith("application/json")
    body = json.loads(raw.body)
    assert body["messages"][0]["content"].endswith("END-OF-HUGE")
    resp = filled.get(f"/palace/x/{huge}/raw/response")
    assert resp.status == 200 and json.loads(resp.body)["object"] == "chat.completion"


def test_unknown_ids_and_paths(filled):
    assert filled.get("/palace/x/999999").status == 404
    assert "No exchange #999999" in filled.get("/palace/x/999999").text
    assert filled.get("/palace/x/abc").status == 404
    assert filled.get("/palace/x/-3").status == 404
    assert filled.get("/palace/x/999999/raw/request").status == 404
    assert filled.get("/palace/nothing-here").status == 404
    assert filled.get("/palace/x/1/mark").status == 405                # a state change is never a GET
    # the proxy still forwards everything else
    assert filled.get("/v1/models").status == 200


def test_mark_and_tags_written_as_annotations(filled, moonpalace_bin):
    target = ids_by(filled, {})[-1]
    csrf = filled.csrf(f"/palace/x/{target}")
    r = filled.get(f"/palace/x/{target}/mark", method="POST", body={"csrf": csrf, "category": "bad"})
    assert r.status == 303 and r.header("Location") == f"/palace/x/{target}?notice=marked"
    r = filled.get(f"/palace/x/{target}/tags", method="POST", body={"csrf": csrf, "add": "回归, smoke"})
    assert r.status == 303
    page = filled.get(f"/palace/x/{target}").text
    assert "bad case" in page and "回归" in page and "smoke" in page
    assert ids_by(filled, {"p": "category == 'badcase'"}) == [target]
    assert ids_by(filled, {"p": "tags ~ 'smoke'"}) == [target]
    r = filled.get(f"/palace/x/{target}/tags", method="POST", body={"csrf": csrf, "remove": "smoke"})
    assert r.status == 303
    r = filled.get(f"/palace/x/{target}/mark", method="POST", body={"csrf": csrf, "category": "good"})
    assert ids_by(filled, {"p": "category == 'goodcase'"}) == [target]
    records = [a for a in log_annotations(moonpalace_bin, filled.data_dir) if a["exchange"] == target]
    assert [a.get("category") for a in records] == ["badcase", None, None, "goodcase"]
    assert records[1]["add_tags"] == ["回归", "smoke"] and records[2]["remove_tags"] == ["smoke"]
    # the CLI sees the same (its own index connection catches up from the log)
    out = subprocess.run([moonpalace_bin, "list", "--json", "-p", "category == 'goodcase'", "--data-dir", filled.data_dir],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(l) for l in out.stdout.splitlines()]
    assert [r["id"] for r in rows] == [target] and rows[0]["tags"] == ["回归"]


def test_csrf_and_origin_rejected_nothing_written(filled, moonpalace_bin):
    target = ids_by(filled, {})[0]
    before = len(log_annotations(moonpalace_bin, filled.data_dir))
    assert filled.get(f"/palace/x/{target}/mark", method="POST", body={"category": "good"}).status == 403
    assert filled.get(f"/palace/x/{target}/mark", method="POST", body={"csrf": "0" * 32, "category": "good"}).status == 403
    csrf = filled.csrf()
    evil = filled.get(f"/palace/x/{target}/mark", method="POST", body={"csrf": csrf, "category": "good"},
                      headers={"Origin": "http://evil.example"})
    assert evil.status == 403 and "cross-site" in evil.text
    assert filled.get(f"/palace/x/{target}/mark", method="POST", body={"csrf": csrf, "category": "meh"}).status == 400
    assert filled.get(f"/palace/x/{target}/tags", method="POST", body={"csrf": csrf, "add": " , "}).status == 400
    assert filled.get("/palace/x/999999/mark", method="POST", body={"csrf": csrf, "category": "good"}).status == 404
    assert len(log_annotations(moonpalace_bin, filled.data_dir)) == before
    # DNS rebinding: a loopback admin without a token answers only to loopback names
    r = filled.get("/palace/", headers={"Host": "evil.example:80"})
    assert r.status == 403


def test_live_feed_marks_in_flight_then_complete(filled):
    import threading
    import openai
    newest = max(ids_by(filled, {}))
    def slow_stream():
        time.sleep(1.0)
        client = openai.OpenAI(base_url=filled.base_url, api_key="sk-live")
        for _ in client.chat.completions.create(model="kimi-live", messages=[{"role": "user", "content": "slowly"}],
                                                stream=True, extra_headers={"X-Mock-Chunk-Delay-Ms": "150", "X-Mock-Chunks": "12"}):
            pass
        done["at"] = time.monotonic()
    done = {}
    t = threading.Thread(target=slow_stream)
    t.start()
    def finished(events):
        rows = [json.loads(e["data"]) for e in events if e.get("event") == "row"]
        return any(r["id"] > newest and 'class="x"' in r["html"] for r in rows)
    events = sse_events(filled.root + "/palace/events", finished, timeout=30)
    t.join(30)
    rows = [json.loads(e["data"]) | {"at": e["at"]} for e in events if e.get("event") == "row"]
    mine = [r for r in rows if r["id"] > newest]
    assert mine, f"no live row arrived: {events}"
    assert "inflight" in mine[0]["html"] and "in flight" in mine[0]["html"]          # seen while streaming
    assert 'class="x"' in mine[-1]["html"] and "kimi-live" in mine[-1]["html"]
    # the complete row arrived soon after the stream ended (generous bound: loaded 2-core CI)
    assert mine[-1]["at"] - done["at"] < 5.0
    # a filtered feed does not send rows that do not match it
    r = fetch(filled.root + "/palace/events?" + urllib.parse.urlencode({"p": "status =="}))
    assert r.status == 400


def test_stats_page_charts(filled):
    r = filled.get("/palace/stats")
    assert r.status == 200
    assert r.text.count("<svg") >= 5 and "Requests per hour" in r.text and "Latency p50 / p95" in r.text
    assert "moonshot-v1-8k" in r.text and 'id="stats-table"' in r.text
    assert filled.get("/palace/stats?" + urllib.parse.urlencode({"p": "status >"})).status == 400
    r = filled.get("/palace/stats?" + urllib.parse.urlencode({"until": "2001-01-01"}))
    assert r.status == 200 and 'id="empty"' in r.text


def test_web_alone_token_cookie_flow(moonpalace_bin, filled):
    out = subprocess.run([moonpalace_bin, "web", "--host", "0.0.0.0", "--port", "0", "--data-dir", filled.data_dir],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "--web-token" in out.stderr
    from conftest import _stop
    proc = start_web_alone(moonpalace_bin, filled.data_dir, "--host", "0.0.0.0", "--web-token", "s3cret-t0ken",
                           ready=r"MoonPalace web admin => (http://127\.0\.0\.1:(\d+)/palace/)\?token=s3cret-t0ken")
    try:
        root = f"http://127.0.0.1:{proc.match.group(2)}"
        r = fetch(root + "/palace/")
        assert r.status == 401 and "token" in r.text
        assert fetch(root + "/palace/x/1").status == 401
        assert fetch(root + "/palace/?token=wrong").status == 401
        r = fetch(root + "/palace/?token=s3cret-t0ken&status=error")
        assert r.status == 303 and r.header("Location") == "/palace/?status=error"
        cookie = r.header("Set-Cookie")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and cookie.startswith("palace_token=s3cret-t0ken")
        jar = cookie.split(";")[0]
        r = fetch(root + "/palace/?status=error", headers={"Cookie": jar})
        assert r.status == 200 and len(row_ids(r.text)) == 1
        assert fetch(root + "/palace/stats", headers={"Authorization": "Bearer s3cret-t0ken"}).status == 200
        assert fetch(root + "/palace/", headers={"Cookie": "palace_token=nope"}).status == 401
        # while the proxy runs it holds the log's writer: a mark from `web` alone goes through the proxy's
        # control channel (as `export --good` does) and lands on the log all the same
        page = fetch(root + "/palace/", headers={"Cookie": jar}).text
        csrf = re.search(r'data-csrf="([0-9a-f]+)"', page).group(1)
        r = fetch(root + "/palace/x/2/tags", method="POST", body={"csrf": csrf, "add": "via-web-alone"},
                  headers={"Cookie": jar})
        assert r.status == 303, r.text
        assert any(a["exchange"] == 2 and a["add_tags"] == ["via-web-alone"] for a in log_annotations(moonpalace_bin, filled.data_dir))
        assert "via-web-alone" in fetch(root + "/palace/x/2", headers={"Cookie": jar}).text
    finally:
        _stop(proc.popen)


def test_open_event_streams_do_not_hold_up_shutdown(moonpalace_bin, tmp_path):
    """SIGTERM with browsers still listening on /palace/events: the feeds end, the proxy exits promptly."""
    import http.client
    import signal
    from conftest import _launch, _stop
    web = start_web_proxy(moonpalace_bin, "mock", tmp_path)
    try:
        conns = []
        for _ in range(3):
            c = http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
            c.request("GET", "/palace/events")
            r = c.getresponse()
            assert r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream")
            assert r.readline().startswith(b"retry:")
            conns.append((c, r))
        started = time.monotonic()
        web.process.popen.send_signal(signal.SIGTERM)
        assert web.process.popen.wait(timeout=30) == 0
        assert time.monotonic() - started < 8, "the open event streams delayed the shutdown"
        for c, r in conns:
            rest = r.read()                                             # the stream ended (no hang)
            c.close()
    finally:
        _stop(web.process.popen)


def test_downloads_match_the_export_command(filled, moonpalace_bin):
    target = ids_by(filled, {"model": "kimi-k2*"})[0]
    r = filled.get(f"/palace/x/{target}/case.json")
    assert r.status == 200 and "attachment" in r.header("Content-Disposition")
    out = subprocess.run([moonpalace_bin, "export", "--id", str(target), "--data-dir", filled.data_dir],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert r.body == out.stdout                                        # byte for byte what `export` writes
    case = json.loads(r.body)
    assert case["metadata"]["moonpalace_id"] == str(target)
    assert re.search(r'filename="chatcmpl-[^"]+\.json"', r.header("Content-Disposition"))
    curl = filled.get(f"/palace/x/{target}/curl")
    out = subprocess.run([moonpalace_bin, "export", "--id", str(target), "--curl", "--data-dir", filled.data_dir],
                         capture_output=True, timeout=60)
    assert curl.status == 200 and curl.body == out.stdout and curl.text.startswith("curl ")
    assert filled.get("/palace/x/999999/case.json").status == 404
    # the current filter as HAR and JSON Lines
    errors = ids_by(filled, {"status": "error"})
    har = filled.get("/palace/export.har?status=error")
    assert har.status == 200 and "moonpalace-export.har" in har.header("Content-Disposition")
    entries = json.loads(har.body)["log"]["entries"]
    assert len(entries) == len(errors) == 1 and entries[0]["response"]["status"] == 500
    everything = ids_by(filled, {})
    jl = filled.get("/palace/export.jsonl")
    lines = [json.loads(l) for l in jl.text.splitlines()]
    assert len(lines) == len(everything)
    assert "sk-web-test-key" not in jl.text and "sk-web-test-key" not in har.text   # redacted like `export`
    assert filled.get("/palace/export.har?p=status%20%3D%3D").status == 400
    # the pages link to them
    page = filled.get(f"/palace/x/{target}").text
    assert f'href="/palace/x/{target}/case.json"' in page and f'href="/palace/x/{target}/curl"' in page
    assert 'href="/palace/export.har?status=error"' in filled.get("/palace/?status=error").text


def test_replay_from_the_page(filled, moonpalace_bin):
    original = ids_by(filled, {"model": "kimi-k2*"})[0]
    before = ids_by(filled, {})
    csrf = filled.csrf(f"/palace/x/{original}")
    assert filled.get(f"/palace/x/{original}/replay", method="POST", body={"category": "x"}).status == 403
    r = filled.get(f"/palace/x/{original}/replay", method="POST", body={"csrf": csrf})
    assert r.status == 303, r.text
    m = re.match(r"/palace/x/(\d+)\?notice=replayed$", r.header("Location"))
    assert m, r.header("Location")
    new = int(m.group(1))
    assert new > max(before)
    page = filled.get(f"/palace/x/{new}").text
    assert 'id="replay-of"' in page and f'href="/palace/x/{original}"' in page
    assert "replay_of" in page and "kimi-k2-0905-preview" in page
    assert wait_until(lambda: new in ids_by(filled, {}), timeout=10)
    assert filled.get("/palace/x/999999/replay", method="POST", body={"csrf": csrf}).status == 404


def test_replay_from_web_alone_needs_a_running_proxy(moonpalace_bin, tmp_path):
    """`moonpalace web` on a directory no proxy serves: replay explains what to run; marks write the log directly."""
    from conftest import _stop
    import openai
    web = start_web_proxy(moonpalace_bin, "mock", tmp_path)
    openai.OpenAI(base_url=web.base_url, api_key="sk-x").chat.completions.create(
        model="moonshot-v1-8k", messages=[{"role": "user", "content": "hi"}])
    web.stop()
    proc = start_web_alone(moonpalace_bin, tmp_path)
    try:
        root = f"http://127.0.0.1:{proc.match.group(2)}"
        assert wait_until(lambda: row_ids(fetch(root + "/palace/").text) == [1], timeout=10)
        csrf = re.search(r'data-csrf="([0-9a-f]+)"', fetch(root + "/palace/x/1").text).group(1)
        r = fetch(root + "/palace/x/1/replay", method="POST", body={"csrf": csrf})
        assert r.status == 502 and "none is running" in r.text and "moonpalace start" in r.text
        r = fetch(root + "/palace/x/1/mark", method="POST", body={"csrf": csrf, "category": "bad"})
        assert r.status == 303
        assert [a.get("category") for a in log_annotations(moonpalace_bin, tmp_path)] == ["badcase"]
        assert "bad case" in fetch(root + "/palace/x/1").text
    finally:
        _stop(proc.popen)


def test_log_records_when_each_stream_read_arrived(filled, moonpalace_bin):
    """FORMAT.md 1.2 `arrivals`: a stream long enough to be written in chunk records carries, per record, the reads
    of its bytes with their arrival times; together they cover the whole body, in order; JSON answers carry none."""
    import openai
    client = openai.OpenAI(base_url=filled.base_url, api_key="sk-arrivals")
    for _ in client.chat.completions.create(model="kimi-arrivals", messages=[{"role": "user", "content": "slow"}], stream=True,
                                            extra_headers={"X-Mock-Chunk-Delay-Ms": "100", "X-Mock-Chunks": "14",
                                                           "X-Request-Id": "arrivals-e2e"}):
        pass
    def dumped():
        out = subprocess.run([moonpalace_bin, "log", "dump", "--data-dir", filled.data_dir], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    records = []
    def ended():
        records[:] = dumped()
        begins = [r for r in records if r["type"] == "begin" and r.get("client_request_id") == "arrivals-e2e"]
        return begins and any(r["type"] == "end" and r["exchange"] == begins[0]["exchange"] for r in records)
    assert wait_until(ended, timeout=15)
    x = next(r["exchange"] for r in records if r["type"] == "begin" and r.get("client_request_id") == "arrivals-e2e")
    mine = [r for r in records if r["exchange"] == x and r["type"] in ("chunk", "end")]
    chunks = [r for r in mine if r["type"] == "chunk"]
    end = mine[-1]
    assert end["type"] == "end" and chunks, "a 1.4 s stream is written in chunk records as it goes"
    # the SDK closes its connection right after [DONE]: that is the stream's normal end, not client_disconnected
    assert "failure" not in end, end.get("failure")
    reads = [a for r in mine for a in r.get("arrivals", [])]
    assert all("arrivals" in r for r in mine)
    # contiguous from 0 to the body's end, times rising and within the exchange's total
    assert reads[0][0] == 0 and all(a[0] + a[1] == b[0] for a, b in zip(reads, reads[1:]))
    assert reads[-1][0] + reads[-1][1] == end["response_body_length"]
    times = [a[2] for a in reads]
    assert times == sorted(times) and times[-1] <= end["timings"]["total_us"]
    assert times[-1] - times[0] >= 1_000_000, "14 chunks 100 ms apart arrive over more than a second"
    for c in chunks:
        assert c["arrivals"][0][0] == c["body_offset"]                 # each record covers its own bytes
    # a JSON answer has none
    first_json = next(r for r in records if r["type"] == "end" and "text/event-stream" not in json.dumps(r["response_headers"]))
    assert "arrivals" not in first_json


def test_web_replay_uses_the_config_that_moved_the_data(moonpalace_bin, tmp_path):
    """`~/.moonpalace/config.yaml` with `data-dir` moves the data elsewhere: `moonpalace web` then reads its settings
    from that file (as `start` and `replay` do), so the replay button sends its `start.key`, not nothing."""
    from conftest import _stop
    import openai
    home, data = tmp_path / "home", tmp_path / "elsewhere"
    (home / ".moonpalace").mkdir(parents=True)
    (home / ".moonpalace" / "config.yaml").write_text(f"data-dir: {data}\nstart:\n  key: sk-from-home-config-0000wxyz\n")
    env = {"HOME": str(home), "NO_COLOR": "1", "MOONSHOT_API_KEY": ""}
    # the proxy serves the directory by name (so it reads <data>/config.yaml, which has no key)
    proxy = start_web_proxy(moonpalace_bin, "mock", data, env=env)
    try:
        openai.OpenAI(base_url=proxy.base_url, api_key="sk-original-key-1111").chat.completions.create(
            model="moonshot-v1-8k", messages=[{"role": "user", "content": "hi"}])
        web = start_web_alone(moonpalace_bin, None, env=env)
        try:
            root = f"http://127.0.0.1:{web.match.group(2)}"
            assert wait_until(lambda: row_ids(fetch(root + "/palace/").text) == [1], timeout=10)
            csrf = re.search(r'data-csrf="([0-9a-f]+)"', fetch(root + "/palace/x/1").text).group(1)
            r = fetch(root + "/palace/x/1/replay", method="POST", body={"csrf": csrf})
            assert r.status == 303, r.text
            new = int(re.match(r"/palace/x/(\d+)\?notice=replayed$", r.header("Location")).group(1))
            page = fetch(root + f"/palace/x/{new}").text
            assert re.search(r"(?i)authorization: Bearer \*+wxyz", page), "the replay carried the home config's key"
        finally:
            _stop(web.popen)
    finally:
        proxy.stop()
