"""Retention (`start --retention-max-size`) removes whole log segments; the index forgets their exchanges at its next
catch-up (the tailer inside `start`, and every read command), so `list` never shows an exchange whose bodies are
gone, and `inspect` of such an id says why. Real binary, real log, real proxy in front of the built-in mock."""
import json
import os
import subprocess
import urllib.error
import urllib.request

from conftest import wait_until
from test_proxy_util import BANNER


def run(binary, *args, check=True):
    out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    if check:
        assert out.returncode == 0, f"{args}: rc={out.returncode} {out.stderr}"
    return out


def listed(binary, data):
    out = run(binary, "list", "-n", "0", "--json", "--data-dir", data).stdout
    return [json.loads(line)["id"] for line in out.splitlines() if line.strip()]


def ids_in_log(binary, data):
    out = run(binary, "log", "dump", "--data-dir", data).stdout
    return {r["exchange"] for r in map(json.loads, out.splitlines()) if r["type"] == "begin"}


def test_retention_removes_exchanges_from_list_and_inspect(moonpalace_bin, start_process, tmp_path):
    data = str(tmp_path / "data")
    run(moonpalace_bin, "index", "_generate", "300", "--segment-bytes", "20000", "--data-dir", data)
    segments = sorted(n for n in os.listdir(os.path.join(data, "log")) if n.endswith(".seg"))
    assert len(segments) >= 4, segments
    assert len(listed(moonpalace_bin, data)) == 300                       # indexed before retention runs

    proc = start_process([moonpalace_bin, "start", "--port", "0", "--endpoint", "mock",
                          "--retention-max-size", "60KB", "--data-dir", data], BANNER, env={"NO_COLOR": "1"})
    assert wait_until(lambda: "retention: removed" in proc.output, timeout=30), proc.output
    # One more exchange through the proxy: the tailer keeps indexing while old rows go.
    req = urllib.request.Request(proc.match.group(1) + "/chat/completions", method="POST",
                                 data=json.dumps({"model": "kimi-k2", "messages": [{"role": "user", "content": "hi"}]}).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer sk-test"})
    assert urllib.request.urlopen(req, timeout=30).status == 200

    kept = ids_in_log(moonpalace_bin, data)
    assert 301 in kept and 1 not in kept and len(kept) < 301
    assert wait_until(lambda: set(listed(moonpalace_bin, data)) == kept, timeout=10)   # while start runs
    rows = listed(moonpalace_bin, data)
    assert rows == sorted(kept, reverse=True)
    assert run(moonpalace_bin, "index", "verify", "--data-dir", data, check=False).returncode == 0

    gone = run(moonpalace_bin, "inspect", "--id", "1", "--data-dir", data, check=False)
    assert gone.returncode != 0
    assert "no longer in the log" in gone.stderr and "retention" in gone.stderr, gone.stderr
    assert "Traceback" not in gone.stderr
    first = min(kept)
    assert run(moonpalace_bin, "inspect", "--id", str(first), "--json", "--data-dir", data).returncode == 0
    # The web admin's page of a removed exchange says why it is gone.
    try:
        urllib.request.urlopen(proc.match.group(1).removesuffix("/v1") + "/palace/x/1", timeout=30)
        raise AssertionError("a removed exchange has a page")
    except urllib.error.HTTPError as e:
        assert e.code == 404 and "no longer in the log" in e.read().decode()
    # Full text never finds a removed exchange either.
    assert all(json.loads(line)["id"] in kept for line in
               run(moonpalace_bin, "search", "the", "-n", "0", "--json", "--data-dir", data).stdout.splitlines() if line)
