"""End-to-end tests of `moonpalace import` (issue 6): MoonPalace databases of every layout come in with their ids
and times, a second import adds nothing, broken or foreign files are refused with nothing imported, and `start`
points at a MoonPalace database it finds in the data directory."""
import json
import os
import sqlite3
import subprocess
import time

import pytest

from conftest import free_port


def run(binary, *args, check=True, timeout=120):
    out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert out.returncode == 0, f"{args}: rc={out.returncode} {out.stderr}"
    return out


def jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def listed(binary, data, *args):
    return jsonl(run(binary, "list", "-n", "0", "--json", *args, "--data-dir", data).stdout)


NEW_COLUMNS = """id INTEGER NOT NULL CONSTRAINT moonshot_requests_pk PRIMARY KEY AUTOINCREMENT,
  request_method TEXT NOT NULL, request_path TEXT NOT NULL, request_query TEXT NOT NULL, request_content_type TEXT,
  request_id TEXT, moonshot_id TEXT, moonshot_gid TEXT, moonshot_uid TEXT, moonshot_request_id TEXT,
  moonshot_server_timing INTEGER, response_status_code INTEGER, response_content_type TEXT, request_header TEXT,
  request_body TEXT, response_header TEXT, response_body TEXT, error TEXT"""

SSE = ('data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1,"model":"moonshot-v1-8k",'
       '"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n'
       'data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1,"model":"moonshot-v1-8k",'
       '"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop",'
       '"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}]}\n\ndata: [DONE]\n\n')


def old_layout_db(path):
    """A database created by an early MoonPalace and migrated: the five later columns come after created_at."""
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE moonshot_requests ({NEW_COLUMNS}, "
               "created_at TEXT NOT NULL DEFAULT (datetime('now','localtime')))")
    for col, typ in [("response_ttft", "INTEGER"), ("response_tpot", "INTEGER"), ("response_otps", "REAL"),
                     ("latency", "INTEGER"), ("endpoint", "TEXT")]:
        db.execute(f"ALTER TABLE moonshot_requests ADD COLUMN {col} {typ}")
    rows = [
        (7, "POST", "/v1/chat/completions", "", "application/json", "client-1", "chatcmpl-a1", "tier-5", "uid-1", "req-a1",
         812, 200, "application/json", "Content-Type: application/json\r\nUser-Agent: OpenAI/Python\r\n",
         '{"model":"moonshot-v1-8k","messages":[{"role":"user","content":"你好"}]}',
         "Content-Type: application/json\r\nMsh-Request-Id: req-a1\r\n",
         '{"id":"chatcmpl-a1","object":"chat.completion","created":1,"model":"moonshot-v1-8k","choices":[{"index":0,'
         '"message":{"role":"assistant","content":"你好！"},"finish_reason":"stop"}],'
         '"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}',
         None, "2024-08-21 15:04:05", None, 33, 30.5, 1_234_000_000, "https://api.moonshot.cn"),
        (9, "POST", "/v1/chat/completions", "", "application/json", None, "chatcmpl-s1", None, None, "req-s1",
         None, 200, "text/event-stream", "Content-Type: application/json\r\n",
         '{"model":"moonshot-v1-8k","stream":true,"messages":[{"role":"user","content":"hi"}]}',
         "Content-Type: text/event-stream\r\n", SSE, None, "2024-08-22 08:00:00", 150, None, None, 2_000_000_000, None),
        (12, "POST", "/v1/chat/completions", "", "application/json", None, None, None, None, None, None, None, None,
         "Content-Type: application/json\r\n", '{"model":"moonshot-v1-8k","messages":[]}', None, None,
         'Post "https://api.moonshot.cn/v1/chat/completions": dial tcp: i/o timeout', "2024-08-23 09:30:00",
         None, None, None, 30_000_000_000, "https://api.moonshot.cn"),
        (13, "GET", "/v1/models", "limit=2", None, None, None, None, None, None, None, 200, "application/json",
         "", None, "Content-Type: application/json\r\n", '{"object":"list","data":[]}', None, "2024-08-23 09:31:00",
         None, None, None, 5_000_000, None),
    ]
    db.executemany("INSERT INTO moonshot_requests (id, request_method, request_path, request_query, request_content_type,"
                   " request_id, moonshot_id, moonshot_gid, moonshot_uid, moonshot_request_id, moonshot_server_timing,"
                   " response_status_code, response_content_type, request_header, request_body, response_header,"
                   " response_body, error, created_at, response_ttft, response_tpot, response_otps, latency, endpoint)"
                   " VALUES (" + ",".join("?" * 24) + ")", rows)
    db.commit()
    db.close()


def test_old_column_order_and_units(moonpalace_bin, tmp_path):
    source = str(tmp_path / "moonpalace.sqlite")
    old_layout_db(source)
    data = str(tmp_path / "data")
    out = run(moonpalace_bin, "import", source, "--data-dir", data).stdout
    assert "imported 4 exchange(s)" in out
    got = {r["chatcmpl"] or r["path"] + str(r["status"]): r for r in listed(moonpalace_bin, data)}
    a1 = got["chatcmpl-a1"]
    assert a1["status"] == 200 and a1["latency_ms"] == 1234 and a1["request_id"] == "req-a1"
    assert a1["client_request_id"] == "client-1" and a1["total_tokens"] == 12 and a1["model"] == "moonshot-v1-8k"
    meta = json.loads(run(moonpalace_bin, "inspect", "--id", str(a1["id"]), "--json", "--data-dir", data).stdout)["metadata"]
    assert meta["moonpalace_id"] == "7" and meta["requested_at"] == "2024-08-21 15:04:05" and meta["id"] == str(a1["id"])
    assert meta["response_tpot"] == "33" and meta["response_otps"] == "30.5000" and meta["server_timing"] == "812"
    # requested_at (local time) is the original wall time: list shows the same text.
    table = run(moonpalace_bin, "list", "-n", "10", "--columns", "id,requested_at", "--data-dir", data).stdout
    assert "2024-08-21 15:04:05" in table
    stream = got["chatcmpl-s1"]
    assert stream["stream"] and stream["finish_reason"] == "stop" and stream["total_tokens"] == 7
    merged = json.loads(run(moonpalace_bin, "inspect", "--id", str(stream["id"]), "--json", "--data-dir", data).stdout)
    assert merged["merged"]["choices"][0]["message"]["content"] == "Hello"
    failed = next(r for r in got.values() if r["status"] is None)
    assert failed["error_step"] and "i/o timeout" in run(moonpalace_bin, "inspect", "--id", str(failed["id"]),
                                                        "--print", "error", "--data-dir", data).stdout
    models = next(r for r in got.values() if r["path"] == "/v1/models")
    assert models["method"] == "GET"
    raw = run(moonpalace_bin, "inspect", "--id", str(models["id"]), "--print-request", "--data-dir", data).stdout
    assert raw.startswith("GET https://api.moonshot.cn/v1/models?limit=2 HTTP/1.1")
    # Searchable like any exchange, and exportable in MoonPalace's layout with the original id.
    assert [r["chatcmpl"] for r in listed(moonpalace_bin, data, "-p", "request_body.messages.0.content == '你好'")] == ["chatcmpl-a1"]
    case = json.loads(run(moonpalace_bin, "export", "--chatcmpl", "chatcmpl-a1", "--data-dir", data).stdout)
    assert case["metadata"]["moonpalace_id"] == "7"


def test_missing_columns_and_idempotence(moonpalace_bin, tmp_path):
    source = str(tmp_path / "minimal.sqlite")
    db = sqlite3.connect(source)
    db.execute("CREATE TABLE moonshot_requests (id INTEGER PRIMARY KEY, request_method TEXT NOT NULL, "
               "request_path TEXT NOT NULL, created_at TEXT NOT NULL, response_status_code INTEGER, response_body TEXT)")
    db.executemany("INSERT INTO moonshot_requests VALUES (?,?,?,?,?,?)",
                   [(i, "POST", "/v1/chat/completions", f"2024-09-01 10:00:{i:02d}", 429, '{"error":{"message":"slow"}}')
                    for i in range(1, 21)])
    db.commit()
    db.close()
    data = str(tmp_path / "data")
    assert "imported 20 exchange(s)" in run(moonpalace_bin, "import", source, "--data-dir", data).stdout
    again = run(moonpalace_bin, "import", source, "--data-dir", data).stdout
    assert "imported 0 exchange(s)" in again and "20 already imported" in again
    assert len(listed(moonpalace_bin, data)) == 20
    # New rows appended to the same MoonPalace file later come in on the next import, the old ones do not repeat.
    db = sqlite3.connect(source)
    db.execute("INSERT INTO moonshot_requests VALUES (21, 'POST', '/v1/chat/completions', '2024-09-02 10:00:00', 200, '{}')")
    db.commit()
    db.close()
    assert "imported 1 exchange(s)" in run(moonpalace_bin, "import", source, "--data-dir", data).stdout
    assert len(listed(moonpalace_bin, data)) == 21


def test_real_fixture_roundtrip(moonpalace_bin, tmp_path):
    src = str(tmp_path / "src")
    run(moonpalace_bin, "index", "_generate", "150", "--data-dir", src)
    source = str(tmp_path / "moonpalace.sqlite")
    run(moonpalace_bin, "import", "--write-fixture", source, "--data-dir", src)
    data = str(tmp_path / "data")
    run(moonpalace_bin, "import", source, "--data-dir", data)
    theirs, ours = listed(moonpalace_bin, src), listed(moonpalace_bin, data)
    assert len(ours) == len(theirs) == 150
    key = lambda r: (r["chatcmpl"], r["request_id"], r["status"], r["total_tokens"], r["finish_reason"])
    assert sorted(map(key, ours), key=str) == sorted(map(key, theirs), key=str)


def test_broken_or_foreign_files_import_nothing(moonpalace_bin, tmp_path):
    data = str(tmp_path / "data")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(os.urandom(8192))
    out = run(moonpalace_bin, "import", str(garbage), "--data-dir", data, check=False)
    assert out.returncode != 0 and "not a readable SQLite database" in out.stderr
    foreign = str(tmp_path / "foreign.sqlite")
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    db.commit()
    db.close()
    out = run(moonpalace_bin, "import", foreign, "--data-dir", data, check=False)
    assert out.returncode != 0 and "not MoonPalace's" in out.stderr and "notes" in out.stderr
    out = run(moonpalace_bin, "import", str(tmp_path / "absent.sqlite"), "--data-dir", data, check=False)
    assert out.returncode != 0 and "No such file" in out.stderr
    # A damaged date in the last row: the whole file is refused before anything is written.
    bad_date = str(tmp_path / "bad-date.sqlite")
    old_layout_db(bad_date)
    db = sqlite3.connect(bad_date)
    db.execute("UPDATE moonshot_requests SET created_at = 'yesterday' WHERE id = 13")
    db.commit()
    db.close()
    out = run(moonpalace_bin, "import", bad_date, "--data-dir", data, check=False)
    assert out.returncode != 0 and "row 13" in out.stderr and "nothing was imported" in out.stderr
    # A truncated file (pages missing at the end).
    src = str(tmp_path / "src")
    run(moonpalace_bin, "index", "_generate", "400", "--data-dir", src)
    big = str(tmp_path / "big.sqlite")
    run(moonpalace_bin, "import", "--write-fixture", big, "--data-dir", src)
    size = os.path.getsize(big)
    with open(big, "r+b") as f:
        f.truncate(size // 2)
    out = run(moonpalace_bin, "import", big, "--data-dir", data, check=False)
    assert out.returncode != 0 and "nothing was imported" in out.stderr or "not a readable" in out.stderr
    assert listed(moonpalace_bin, data) == []
    dump = run(moonpalace_bin, "log", "dump", "--data-dir", data).stdout
    assert '"begin"' not in dump


def test_start_hints_at_a_moonpalace_database_and_import_waits_for_it(moonpalace_bin, start_process, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    old_layout_db(str(data / "moonpalace.sqlite"))
    port = free_port()
    proc = start_process([moonpalace_bin, "start", "--port", str(port), "--endpoint", "http://127.0.0.1:9",
                          "--data-dir", str(data)], r"MoonPalace Starts")
    assert "moonpalace import " + str(data / "moonpalace.sqlite") in proc.output
    busy = run(moonpalace_bin, "import", str(data / "moonpalace.sqlite"), "--data-dir", str(data), check=False)
    assert busy.returncode != 0 and "stop that process" in busy.stderr
