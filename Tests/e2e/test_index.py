"""End-to-end tests of the index commands against the real binary: list/inspect/search/stats/cleanup/index on
logs written by the real writer (`index _generate`) and by a real proxy in front of `moonpalace mock`."""
import json
import os
import subprocess

import pytest

from test_proxy_util import proxy_factory  # noqa: F401  (fixture)


def run(binary, *args, check=True, input=None):
    out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, input=input)
    if check:
        assert out.returncode == 0, f"{args}: rc={out.returncode} {out.stderr}"
    return out


@pytest.fixture()
def history(moonpalace_bin, tmp_path):
    data = str(tmp_path / "data")
    run(moonpalace_bin, "index", "_generate", "200", "--data-dir", data)
    return data


def jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_list_json_fields_order_and_limit(moonpalace_bin, history):
    rows = jsonl(run(moonpalace_bin, "list", "-n", "7", "--json", "--data-dir", history).stdout)
    assert [r["id"] for r in rows] == list(range(200, 193, -1))
    assert list(rows[0].keys())[:6] == ["id", "state", "status", "method", "path", "chatcmpl"]
    assert all(r["state"] == "complete" for r in rows)
    page2 = jsonl(run(moonpalace_bin, "list", "-n", "3", "--before-id", "194", "--json", "--data-dir", history).stdout)
    assert [r["id"] for r in page2] == [193, 192, 191]
    everything = jsonl(run(moonpalace_bin, "list", "-n", "0", "--json", "--data-dir", history).stdout)
    assert len(everything) == 200


def test_predicates_and_errors(moonpalace_bin, history):
    rows = jsonl(run(moonpalace_bin, "list", "-n", "0", "--json", "-p", "status >= 400", "-p",
                     "response_status_code != 500", "--data-dir", history).stdout)
    assert rows and all(r["status"] == 429 for r in rows)
    rows = jsonl(run(moonpalace_bin, "list", "-n", "0", "--json", "-p",
                     "request_body.messages.0.role == 'system' && response_body.choices.0.finish_reason == 'length'",
                     "--data-dir", history).stdout)
    assert rows and all(r["finish_reason"] == "length" for r in rows)
    bad = run(moonpalace_bin, "list", "-p", "status = 200", "--data-dir", history, check=False)
    assert bad.returncode != 0
    assert "predicate: expected '=='" in bad.stderr and bad.stderr.rstrip().endswith("^")
    evil = run(moonpalace_bin, "list", "-p", "model == \"'; DROP TABLE exchanges; --\"", "--json",
               "--data-dir", history)
    assert evil.stdout.strip() == ""
    assert len(jsonl(run(moonpalace_bin, "list", "-n", "0", "--json", "--data-dir", history).stdout)) == 200


def test_inspect_by_id_chatcmpl_requestid(moonpalace_bin, history):
    row = next(r for r in jsonl(run(moonpalace_bin, "list", "-n", "20", "--json", "--data-dir", history).stdout)
               if r["chatcmpl"])
    by_cmpl = json.loads(run(moonpalace_bin, "inspect", "--chatcmpl", row["chatcmpl"], "--json",
                             "--data-dir", history).stdout)
    assert by_cmpl["metadata"]["moonpalace_id"] == str(row["id"])
    by_req = json.loads(run(moonpalace_bin, "inspect", "--requestid", row["request_id"], "--json",
                            "--data-dir", history).stdout)
    assert by_req["metadata"]["chatcmpl"] == row["chatcmpl"]
    raw = run(moonpalace_bin, "inspect", "--id", str(row["id"]), "--print-request", "--data-dir", history).stdout
    assert raw.startswith("POST https://api.moonshot.cn/v1/chat/completions HTTP/1.1")
    merged = run(moonpalace_bin, "inspect", "--id", str(row["id"]), "--print-response", "--merge-event-stream",
                 "--data-dir", history).stdout
    assert '"object": "chat.completion"' in merged
    missing = run(moonpalace_bin, "inspect", "--id", "99999", "--data-dir", history, check=False)
    assert missing.returncode == 2 and "no exchange matches" in missing.stderr


def test_search_chinese_and_english(moonpalace_bin, history):
    zh = jsonl(run(moonpalace_bin, "search", "月之暗面", "-n", "3", "--json", "--data-dir", history).stdout)
    assert zh and all("[月之暗面]" in r["snippet"] for r in zh)
    en = jsonl(run(moonpalace_bin, "search", "LINKED LIST", "-n", "3", "--json", "--data-dir", history).stdout)
    assert en and all("[linked list]" in r["snippet"] for r in en)


def test_stats_and_index_status_verify(moonpalace_bin, history):
    stats = jsonl(run(moonpalace_bin, "stats", "--json", "--data-dir", history).stdout)
    assert sum(s["requests"] for s in stats) == 200
    status = json.loads(run(moonpalace_bin, "index", "status", "--json", "--data-dir", history).stdout)
    assert status["exchanges"] == 200 and status["lag_records"] == 0
    assert "ok: the index matches the log" in run(moonpalace_bin, "index", "verify", "--data-dir", history).stdout
    assert "rebuilt: 200 exchanges" in run(moonpalace_bin, "index", "rebuild", "--data-dir", history).stdout


def test_cleanup_writes_tombstones_that_survive_a_rebuild(moonpalace_bin, history):
    dry = run(moonpalace_bin, "cleanup", "--id", "5", "--id", "6", "--dry-run", "--data-dir", history).stdout
    assert "2 exchange(s) would be deleted" in dry
    refused = run(moonpalace_bin, "cleanup", "--id", "5", "--data-dir", history, check=False, input="")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    out = run(moonpalace_bin, "cleanup", "--id", "5", "--id", "6", "--yes", "--data-dir", history).stdout
    assert "| cleanup | 2 |" in out
    run(moonpalace_bin, "index", "rebuild", "--data-dir", history)
    ids = [r["id"] for r in jsonl(run(moonpalace_bin, "list", "-n", "0", "--json", "--data-dir", history).stdout)]
    assert 5 not in ids and 6 not in ids and len(ids) == 198


def test_corrupt_index_is_rebuilt_with_a_notice(moonpalace_bin, history):
    run(moonpalace_bin, "list", "--data-dir", history)
    for suffix in ("", "-wal", "-shm"):
        p = os.path.join(history, "index.sqlite" + suffix)
        if os.path.exists(p):
            os.remove(p)
    with open(os.path.join(history, "index.sqlite"), "wb") as f:
        f.write(b"garbage" * 100)
    out = run(moonpalace_bin, "list", "-n", "1", "--json", "--data-dir", history)
    assert "damaged" in out.stderr
    assert jsonl(out.stdout)[0]["id"] == 200


def test_proxy_traffic_is_listed_at_once_and_cleanup_goes_through_the_proxy(moonpalace_bin, mock_server, proxy_factory):  # noqa: F811
    import urllib.error
    import urllib.request
    proxy = proxy_factory(mock_server)
    base = proxy.base_url if hasattr(proxy, "base_url") else None
    if base is None:
        pytest.skip("proxy fixture without base_url")
    body = json.dumps({"model": "kimi-k2", "messages": [{"role": "user", "content": "hello index"}]}).encode()
    req = urllib.request.Request(base + "/chat/completions", data=body,
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer sk-test"})
    urllib.request.urlopen(req, timeout=30).read()
    rows = jsonl(run(moonpalace_bin, "list", "--json", "--data-dir", proxy.data_dir).stdout)
    assert rows and rows[0]["path"] == "/v1/chat/completions" and rows[0]["state"] == "complete"
    urllib.request.urlopen(req, timeout=30).read()
    first, second = rows[0]["id"], rows[0]["id"] + 1
    # --compact rewrites the log: refused while start holds it, before anything is deleted.
    busy = run(moonpalace_bin, "cleanup", "--id", str(first), "--yes", "--compact", "--data-dir", proxy.data_dir,
               check=False)
    assert busy.returncode == 2 and "pid" in busy.stderr and "stop that process" in busy.stderr
    assert len(jsonl(run(moonpalace_bin, "list", "--json", "--data-dir", proxy.data_dir).stdout)) == 2
    # A control path without the proxy's token is not special: forwarded upstream, nothing deleted.
    sneaky = urllib.request.Request(base.removesuffix("/v1") + "/_moonpalace/tombstone", method="POST",
                                    data=json.dumps({"ids": [first, second]}).encode(),
                                    headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(sneaky, timeout=30).read()
    except urllib.error.HTTPError:
        pass
    assert {r["id"] for r in jsonl(run(moonpalace_bin, "list", "--json", "--data-dir", proxy.data_dir).stdout)} >= {first, second}
    # Without --compact the tombstone goes through the running proxy's writer.
    out = run(moonpalace_bin, "cleanup", "--id", str(first), "--yes", "--data-dir", proxy.data_dir)
    assert "| cleanup | 1 |" in out.stdout
    left = [r["id"] for r in jsonl(run(moonpalace_bin, "list", "-n", "0", "--json", "--data-dir", proxy.data_dir).stdout)]
    assert first not in left and second in left
    dump = [json.loads(x) for x in run(moonpalace_bin, "log", "dump", "--data-dir", proxy.data_dir).stdout.splitlines()]
    assert [d["exchange_ids"] for d in dump if d["type"] == "tombstone"] == [[first]]


def test_start_keeps_the_index_current_without_a_read_command(moonpalace_bin, mock_server, proxy_factory):  # noqa: F811
    """The tailer inside `start` indexes an exchange by itself (no CLI catch-up), within a second or so of its end."""
    import sqlite3
    import time
    import urllib.request
    proxy = proxy_factory(mock_server)
    body = json.dumps({"model": "kimi-k2", "messages": [{"role": "user", "content": "tail me"}]}).encode()
    req = urllib.request.Request(proxy.base_url + "/chat/completions", data=body,
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer sk-test"})
    urllib.request.urlopen(req, timeout=30).read()
    ended = time.monotonic()
    path = os.path.join(proxy.data_dir, "index.sqlite")
    count = 0
    while time.monotonic() - ended < 15:
        if os.path.exists(path):
            try:
                db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
                count = db.execute("select count(*) from exchanges where state = 'complete'").fetchone()[0]
                db.close()
            except sqlite3.Error:
                count = 0
        if count:
            break
        time.sleep(0.05)
    lag = time.monotonic() - ended
    assert count == 1, "start did not index the exchange by itself"
    print(f"indexed {lag * 1000:.0f} ms after the response ended")
