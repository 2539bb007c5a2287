"""Helpers for the proxy's end-to-end tests (imported by test_proxy*.py; holds no tests itself).

- `proxy_factory(upstream, *extra, data_dir=None)` starts `moonpalace start --port 0` in front of `upstream`.
- The upstream is always `moonpalace mock` (fixtures `mock_server`/`mock_factory`); what the API itself cannot
  show comes from the mock's debug routes: `--endpoint <mock>/_mock/echo` makes every forwarded request come back
  as an echo (method, path+query, headers, body SHA-256 and length), `/_mock/bytes?n=` is a huge body,
  `/_mock/hold` an upstream that never answers, `mock_events()` what the mock saw of held connections.
- `dump_exchanges(bin, data_dir)` reads the log back with `moonpalace log dump`.
"""
import json
import re
import subprocess
import urllib.request

import pytest

BANNER = r'MoonPalace Starts => change base_url to "(http://127\.0\.0\.1:(\d+)/v1)"'


class Proxy:
    def __init__(self, process, data_dir):
        self.process = process
        self.base_url = process.match.group(1)          # ends in /v1
        self.root = self.base_url[: -len("/v1")]
        self.port = int(process.match.group(2))
        self.data_dir = data_dir

    @property
    def output(self):
        return self.process.output


@pytest.fixture
def proxy_factory(moonpalace_bin, start_process, tmp_path_factory):
    def start(upstream, *extra, data_dir=None, env=None):
        data_dir = data_dir or str(tmp_path_factory.mktemp("palace"))
        process = start_process(
            [moonpalace_bin, "start", "--port", "0", "--endpoint", upstream, "--data-dir", data_dir, *extra],
            BANNER, env={"NO_COLOR": "1", **(env or {})})
        return Proxy(process, data_dir)
    return start


def dump_exchanges(moonpalace_bin, data_dir):
    """Every exchange in the log, by exchange id: {'begin': record, 'end': record or None, 'chunks': n}.
    Records are `moonpalace log dump` JSON lines (flat objects: type, exchange, then the record's fields)."""
    out = subprocess.run([moonpalace_bin, "log", "dump", "--data-dir", data_dir],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"log dump failed: {out.stderr}"
    exchanges = {}
    for line in out.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        kind, xid = rec.get("type"), rec.get("exchange")
        entry = exchanges.setdefault(xid, {"begin": None, "end": None, "chunks": 0})
        if kind == "begin":
            entry["begin"] = rec
        elif kind == "chunk":
            entry["chunks"] += 1
        elif kind == "end":
            entry["end"] = rec
    return exchanges


def normalize_ids(body: bytes) -> bytes:
    """The mock's ids, request ids and `created` are random/clock values: blank them, keep every other byte."""
    body = re.sub(rb'"id":"[^"]*"', b'"id":"X"', body)
    return re.sub(rb'"created":\d+', b'"created":0', body)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def mock_events(mock_url, tag):
    """The mock's debug log of held requests (`GET /_mock/events?tag=`): [{'event': 'held'|'closed'|'released', …}]."""
    root = mock_url.removesuffix("/v1")
    with urllib.request.urlopen(f"{root}/_mock/events?tag={tag}", timeout=10) as r:
        return json.loads(r.read())["events"]
