"""End-to-end tests of `moonpalace export` and `list --export` (issue 6): MoonPalace's case layout and file names,
good/bad marks and tags as log annotations, a curl command replayed against the mock, batch formats, redaction,
and the bad-input cases (nothing partial left behind)."""
import json
import os
import signal
import subprocess
import time

import pytest

from test_proxy_util import dump_exchanges, proxy_factory  # noqa: F401  (fixture)


def run(binary, *args, check=True, env=None, timeout=120):
    out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, **(env or {})})
    if check:
        assert out.returncode == 0, f"{args}: rc={out.returncode} {out.stderr}"
    return out


def post_json(url, body, headers=None):
    """POST a JSON body with the standard library; returns (status, parsed body or text)."""
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def history(moonpalace_bin, tmp_path_factory):
    data = str(tmp_path_factory.mktemp("history") / "data")
    run(moonpalace_bin, "index", "_generate", "120", "--data-dir", data)
    return data


def rows(binary, data, *args):
    return jsonl(run(binary, "list", "-n", "0", "--json", *args, "--data-dir", data).stdout)


def test_case_layout_matches_moonpalace(moonpalace_bin, history):
    row = next(r for r in rows(moonpalace_bin, history) if r["chatcmpl"] and r["status"] == 200)
    out = run(moonpalace_bin, "export", "--id", str(row["id"]), "--data-dir", history).stdout
    assert out.endswith("}\n") and '\n    "metadata": {' in out        # 4-space indentation, trailing newline
    case = json.loads(out)
    assert list(case.keys())[:3] == ["metadata", "request", "response"]
    assert "category" not in case and "tags" not in case and "error" not in case
    meta = case["metadata"]
    assert list(meta.keys()) == sorted(meta.keys()) and all(isinstance(v, str) for v in meta.values())
    assert meta["moonpalace_id"] == str(row["id"]) and meta["chatcmpl"] == row["chatcmpl"]
    assert meta["status"] == "200 OK" and meta["request_id"] == row["request_id"]
    assert case["request"]["url"] == "https://api.moonshot.cn/v1/chat/completions"
    assert "Content-Type: application/json\r\n" in case["request"]["header"]
    assert case["request"]["body"]["messages"][0]["role"] == "system"      # JSON bodies embedded as JSON
    assert case["response"]["status"] == "200 OK"
    if row["stream"]:
        assert isinstance(case["response"]["body"], str) and case["response"]["body"].startswith("data: ")
    else:
        assert case["response"]["body"]["id"] == row["chatcmpl"]


def test_file_names_and_no_overwrite(moonpalace_bin, history, tmp_path):
    all_rows = rows(moonpalace_bin, history)
    chat = next(r for r in all_rows if r["chatcmpl"])
    failed = next(r for r in all_rows if not r["chatcmpl"] and r["request_id"])
    out = tmp_path / "cases"
    out.mkdir()
    run(moonpalace_bin, "export", "--id", str(chat["id"]), "--directory", str(out), "--data-dir", history)
    run(moonpalace_bin, "export", "--id", str(failed["id"]), "--directory", str(out), "--data-dir", history)
    assert sorted(os.listdir(out)) == sorted([chat["chatcmpl"] + ".json", "requestid-" + failed["request_id"] + ".json"])
    before = (out / (chat["chatcmpl"] + ".json")).read_bytes()
    again = run(moonpalace_bin, "export", "--id", str(chat["id"]), "--directory", str(out), "--data-dir", history,
                check=False)
    assert again.returncode != 0 and "already exists" in again.stderr and "--force" in again.stderr
    run(moonpalace_bin, "export", "--id", str(chat["id"]), "--directory", str(out), "--force", "--data-dir", history)
    assert (out / (chat["chatcmpl"] + ".json")).read_bytes() == before
    assert not [n for n in os.listdir(out) if n.startswith(".")]             # no temporary files left
    missing = run(moonpalace_bin, "export", "--id", str(chat["id"]), "--directory", str(tmp_path / "nope"),
                  "--data-dir", history, check=False)
    assert missing.returncode != 0 and "does not exist" in missing.stderr


def test_marks_and_tags_are_log_records(moonpalace_bin, tmp_path):
    data = str(tmp_path / "data")
    run(moonpalace_bin, "index", "_generate", "30", "--data-dir", data)
    case = json.loads(run(moonpalace_bin, "export", "--id", "7", "--bad", "--tag", "code", "--tag", "zh",
                          "--data-dir", data).stdout)
    assert case["category"] == "badcase" and case["tags"] == ["code", "zh"]
    run(moonpalace_bin, "export", "--id", "9", "--good", "--tag", "code", "--data-dir", data)
    bad = rows(moonpalace_bin, data, "-p", "category == 'badcase'", "-p", "tags ~ 'code'")
    assert [r["id"] for r in bad] == [7]
    # Annotations live in the log: dropping the index and rebuilding it keeps them.
    os.remove(os.path.join(data, "index.sqlite"))
    run(moonpalace_bin, "index", "rebuild", "--data-dir", data)
    assert [r["id"] for r in rows(moonpalace_bin, data, "-p", "tags ~ 'code'")] == [9, 7]
    assert [r["id"] for r in rows(moonpalace_bin, data, "-p", "category == 'goodcase'")] == [9]
    dump = run(moonpalace_bin, "log", "dump", "--data-dir", data).stdout
    assert sum(1 for line in dump.splitlines() if '"annotation"' in line) == 2
    both = run(moonpalace_bin, "export", "--id", "7", "--good", "--bad", "--data-dir", data, check=False)
    assert both.returncode != 0 and "mutually exclusive" in both.stderr
    # A destination that cannot be written fails before the mark: no annotation is left behind.
    nowhere = run(moonpalace_bin, "export", "--id", "8", "--bad", "--directory", str(tmp_path / "nope"),
                  "--data-dir", data, check=False)
    assert nowhere.returncode != 0 and "does not exist" in nowhere.stderr
    taken = tmp_path / "taken.json"
    taken.write_text("{}")
    clash = run(moonpalace_bin, "export", "--id", "8", "--bad", "--output", str(taken), "--data-dir", data, check=False)
    assert clash.returncode != 0 and "already exists" in clash.stderr and taken.read_text() == "{}"
    assert [r["id"] for r in rows(moonpalace_bin, data, "-p", "category == 'badcase'")] == [7]
    dump = run(moonpalace_bin, "log", "dump", "--data-dir", data).stdout
    assert sum(1 for line in dump.splitlines() if '"annotation"' in line) == 2


def test_marks_go_through_a_running_proxy(moonpalace_bin, proxy_factory, mock_server):
    proxy = proxy_factory(mock_server)
    status, _ = post_json(proxy.base_url + "/chat/completions", {"model": "moonshot-v1-8k", "messages": [
        {"role": "user", "content": "hi"}]}, {"Authorization": "Bearer sk-x"})
    assert status == 200
    # `start` holds the log's writer lock: the mark reaches the log through the proxy's control request.
    case = json.loads(run(moonpalace_bin, "export", "--id", "1", "--bad", "--tag", "flaky",
                          "--data-dir", proxy.data_dir).stdout)
    assert case["category"] == "badcase" and case["tags"] == ["flaky"]
    assert os.stat(os.path.join(proxy.data_dir, "proxy.json")).st_mode & 0o777 == 0o600
    proxy.process.popen.send_signal(signal.SIGTERM)
    proxy.process.popen.wait(timeout=20)
    assert not os.path.exists(os.path.join(proxy.data_dir, "proxy.json"))
    assert [r["id"] for r in rows(moonpalace_bin, proxy.data_dir, "-p", "category == 'badcase'")] == [1]


TRICKY = "It's a $HOME `test` \\ with \"quotes\", 'single', newline\nand tab\t, 中文, @file and %s!"


def test_curl_command_reproduces_the_request(moonpalace_bin, proxy_factory, mock_server, tmp_path):
    from openai import OpenAI
    first = proxy_factory(mock_server)
    client = OpenAI(base_url=first.base_url, api_key="sk-curltest0123456789abcdef")
    client.chat.completions.create(model="moonshot-v1-8k", messages=[{"role": "user", "content": TRICKY}],
                                   extra_headers={"X-Custom": "a 'quoted' value"})
    command = run(moonpalace_bin, "export", "--id", "1", "--curl", "--data-dir", first.data_dir).stdout
    assert command.startswith("curl -X 'POST' '" + mock_server + "/chat/completions' \\\n")
    assert '\t-H "Authorization: Bearer $MOONSHOT_API_KEY" \\\n' in command
    lines = [line.strip() for line in command.splitlines() if line.strip().startswith("-H '")]
    names = [line[4:].split(":")[0].lower() for line in lines]
    assert names == sorted(names) and "accept-encoding" not in names and "content-length" not in names
    env = {"MOONSHOT_API_KEY": "sk-curltest0123456789abcdef"}
    # As printed, against the mock: a real completion comes back.
    direct = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert direct.returncode == 0 and json.loads(direct.stdout)["object"] == "chat.completion"
    # Through a second recording proxy: what the mock receives equals the recorded request.
    second = proxy_factory(mock_server)
    through = command.replace(mock_server, second.base_url, 1)
    assert subprocess.run(["bash", "-c", through], capture_output=True, timeout=60,
                          env={**os.environ, **env}).returncode == 0
    a = dump_exchanges(moonpalace_bin, first.data_dir)[1]["begin"]
    b = dump_exchanges(moonpalace_bin, second.data_dir)[1]["begin"]
    assert (a["method"], a["target"]) == (b["method"], b["target"])
    assert a["request_body"] == b["request_body"] and TRICKY in json.loads(b["request_body"])["messages"][0]["content"]

    def headers(rec):
        skip = {"accept-encoding", "content-length", "host", "connection"}
        return sorted((h["name"].lower(), h["value"]) for h in rec["request_headers"] if h["name"].lower() not in skip)
    assert headers(a) == headers(b)


def test_batch_formats(moonpalace_bin, history, tmp_path):
    everything = rows(moonpalace_bin, history)
    lines = tmp_path / "all.jsonl"
    run(moonpalace_bin, "export", "--all", "--format", "jsonl", "--output", str(lines), "--data-dir", history)
    got = jsonl(lines.read_text())
    assert [g["id"] for g in got] == [r["id"] for r in everything]
    stream = next(g for g in got if g["stream"] and g["status"] == 200)
    assert stream["merged"]["object"] == "chat.completion" and stream["response"]["body"].startswith("data: ")
    assert stream["request"]["headers"]["Authorization"].startswith("Bearer ****")

    har_path = tmp_path / "some.har"
    run(moonpalace_bin, "export", "-p", "status != 200", "--format", "har", "-o", str(har_path), "--data-dir", history)
    har = json.loads(har_path.read_text())
    entries = har["log"]["entries"]
    assert har["log"]["version"] == "1.2" and len(entries) == sum(1 for r in everything if r["status"] != 200)
    for e in entries:
        t = e["timings"]
        assert abs(e["time"] - (t["send"] + t["wait"] + t["receive"])) < 0.01 and min(t.values()) >= 0
        if e["response"]["status"] == 0:
            assert e["response"]["_error"]
    run(moonpalace_bin, "export", "--all", "--limit", "10", "--format", "har", "-o", str(tmp_path / "ten.har"),
        "--data-dir", history)
    ten = json.loads((tmp_path / "ten.har").read_text())["log"]["entries"]
    assert len(ten) == 10 and any(e["response"].get("_sseEvents") for e in ten if "_sseEvents" in e["response"]) \
        or len(ten) == 10

    chat = tmp_path / "chat.jsonl"
    run(moonpalace_bin, "export", "-p", "status == 200", "--format", "openai-chat", "-o", str(chat), "--data-dir", history)
    examples = jsonl(chat.read_text())
    assert len(examples) == sum(1 for r in everything if r["status"] == 200)
    assert all(list(x.keys()) == ["messages"] and x["messages"][-1]["role"] == "assistant"
               and x["messages"][-1]["content"] for x in examples)

    cases = tmp_path / "cases"
    run(moonpalace_bin, "export", "--all", "--since", "10d", "--format", "json", "-o", str(cases), "--data-dir", history)
    recent = rows(moonpalace_bin, history, "--since", "10d")
    assert 0 < len(os.listdir(cases)) == len(recent) < len(everything)


def test_bad_inputs_leave_nothing(moonpalace_bin, history, tmp_path):
    target = tmp_path / "out.jsonl"
    bad = run(moonpalace_bin, "export", "--all", "--format", "xml", "-o", str(target), "--data-dir", history, check=False)
    assert bad.returncode != 0 and "unknown format" in bad.stderr and "jsonl" in bad.stderr
    empty = run(moonpalace_bin, "export", "-p", "status == 999", "-o", str(target), "--data-dir", history, check=False)
    assert empty.returncode != 0 and "no exchange matches" in empty.stderr and not target.exists()
    target.write_text("keep me")
    exists = run(moonpalace_bin, "export", "--all", "-o", str(target), "--data-dir", history, check=False)
    assert exists.returncode != 0 and "--force" in exists.stderr and target.read_text() == "keep me"
    not_dir = run(moonpalace_bin, "export", "--all", "-o", str(target) + "/x.jsonl", "--data-dir", history, check=False)
    assert not_dir.returncode != 0 and "cannot write" in not_dir.stderr
    unwritable = run(moonpalace_bin, "export", "--all", "-o", "/proc/moonpalace-export.jsonl", "--data-dir", history,
                     check=False)
    assert unwritable.returncode != 0 and "cannot write" in unwritable.stderr
    no_output = run(moonpalace_bin, "export", "--all", "--data-dir", history, check=False)
    assert no_output.returncode != 0 and "--output" in no_output.stderr
    assert sorted(os.listdir(tmp_path)) == ["out.jsonl"]


def test_ids_that_would_escape_the_directory(moonpalace_bin, proxy_factory, mock_server, tmp_path):
    # The mock answers with a completion id that would escape an export directory (X-Mock-Completion-Id).
    proxy = proxy_factory(mock_server)
    status, body = post_json(proxy.base_url + "/chat/completions",
                             {"model": "moonshot-v1-8k", "messages": [{"role": "user", "content": "hi"}]},
                             {"X-Mock-Completion-Id": "../../escaped"})
    assert status == 200 and json.loads(body)["id"] == "../../escaped"
    proxy.process.popen.send_signal(signal.SIGTERM)
    proxy.process.popen.wait(timeout=20)
    out = tmp_path / "cases"
    out.mkdir()
    single = run(moonpalace_bin, "export", "--id", "1", "--directory", str(out), "--data-dir", proxy.data_dir,
                 check=False)
    assert single.returncode != 0 and "would leave the export directory" in single.stderr
    batch = run(moonpalace_bin, "export", "--all", "--format", "json", "-o", str(out), "--data-dir", proxy.data_dir,
                check=False)
    assert batch.returncode != 0 and "would leave the export directory" in batch.stderr
    assert os.listdir(out) == [] and not os.path.exists(tmp_path / "escaped.json")


def test_interrupted_export_leaves_no_file(moonpalace_bin, tmp_path):
    data = str(tmp_path / "data")
    run(moonpalace_bin, "index", "_generate", "4000", "--data-dir", data)
    run(moonpalace_bin, "index", "status", "--data-dir", data)          # index built before the timed part
    target = tmp_path / "big.har"
    proc = subprocess.Popen([moonpalace_bin, "export", "--all", "--format", "har", "-o", str(target), "--data-dir", data],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if any(n.endswith(".part-%d" % proc.pid) for n in os.listdir(tmp_path)):
            break
        time.sleep(0.005)
    if proc.poll() is not None:
        pytest.skip("the export finished before it could be interrupted")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    assert sorted(os.listdir(tmp_path)) == ["data"]                   # neither big.har nor its temporary file


def test_redaction(moonpalace_bin, proxy_factory, mock_server, tmp_path):
    proxy = proxy_factory(mock_server)
    secret = "sk-abcdefghijklmnopqrstuvwxyz0123"
    post_json(proxy.base_url + "/chat/completions",
              {"model": "moonshot-v1-8k", "api_key": "inner-secret-7777",
               "messages": [{"role": "user", "content": f"my key is {secret} and ticket TICKET-4242"}]},
              {"Authorization": "Bearer " + secret, "X-Api-Key": "plainsecretvalue99"})
    proxy.process.popen.send_signal(signal.SIGTERM)
    proxy.process.popen.wait(timeout=20)
    default = run(moonpalace_bin, "export", "--id", "1", "--data-dir", proxy.data_dir).stdout
    assert secret not in default and "plainsecretvalue99" not in default and "inner-secret-7777" not in default
    assert "*0123" in default and "TICKET-4242" in default
    extra = run(moonpalace_bin, "export", "--id", "1", "--redact", "TICKET-[0-9]+", "--data-dir", proxy.data_dir).stdout
    assert "TICKET-4242" not in extra and "***********" in extra
    raw = run(moonpalace_bin, "export", "--id", "1", "--no-redact", "--data-dir", proxy.data_dir).stdout
    assert secret in raw and "inner-secret-7777" in raw and "TICKET-4242" in raw
    header = raw.split('"header": ')[1].split("\n")[0]
    assert secret not in header and "plainsecretvalue99" not in header   # credential headers were masked when recorded
    lines = run(moonpalace_bin, "export", "--all", "--format", "jsonl", "-o", "-", "--data-dir", proxy.data_dir).stdout
    assert secret not in lines and "inner-secret-7777" not in lines
    bad = run(moonpalace_bin, "export", "--id", "1", "--redact", "([unclosed", "--data-dir", proxy.data_dir, check=False)
    assert bad.returncode != 0 and "not a valid regular expression" in bad.stderr


def test_list_export_is_moonpalace_compatible(moonpalace_bin, history, tmp_path):
    out = tmp_path / "listed"
    missing = run(moonpalace_bin, "list", "--export", str(out), "--data-dir", history, check=False)
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    out.mkdir()
    done = run(moonpalace_bin, "list", "--export", str(out), "--data-dir", history)
    everything = rows(moonpalace_bin, history)
    assert len(os.listdir(out)) == len(everything) > 10                   # no -n: no limit
    assert done.stderr.count("successfully") == len(everything) and "] " in done.stderr and " export to " in done.stderr
    stream = next(r for r in everything if r["stream"] and r["chatcmpl"])
    case = json.loads((out / (stream["chatcmpl"] + ".json")).read_text())
    assert case["response"]["body"]["object"] == "chat.completion"        # streams merged, as MoonPalace's list did
    few = tmp_path / "few"
    few.mkdir()
    run(moonpalace_bin, "list", "-n", "5", "--export", str(few), "--data-dir", history)
    assert len(os.listdir(few)) == 5
