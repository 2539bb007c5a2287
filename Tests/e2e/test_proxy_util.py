"""Helpers for the proxy's end-to-end tests (imported by test_proxy*.py; holds no tests itself).

- `proxy_factory(upstream, *extra, data_dir=None)` starts `moonpalace start --port 0` in front of `upstream`.
- `stand_in` is a small threaded HTTP server for what the mock cannot show: echoed path+query and body digests,
  gzip on request, huge bodies, a hanging upstream, paced SSE.
- `dump_exchanges(bin, data_dir)` reads the log back with `moonpalace log dump`.
"""
import gzip
import hashlib
import json
import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


# `/hold` calls: set when the stand-in has the request, and when the proxy closed that upstream connection.
HOLD = {"started": threading.Event(), "closed": threading.Event()}


class _StandIn(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            h, n = hashlib.sha256(), 0
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return h.hexdigest(), n
                data = self.rfile.read(size)
                h.update(data)
                n += len(data)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        h, left = hashlib.sha256(), length
        while left:
            data = self.rfile.read(min(left, 1 << 20))
            h.update(data)
            left -= len(data)
        return h.hexdigest(), length

    def _send(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        digest, length = self._body()
        path = self.path
        if path.startswith("/hang"):
            time.sleep(30)
            return
        if path.startswith("/hold"):
            # Answers nothing (or an SSE head and one event with sse=1), then waits up to 20 s for the proxy to
            # close this upstream connection: that is how a cancelled upstream call looks from the upstream.
            if "sse=1" in path:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                event = b'data: {"hold":1}\n\n'
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            HOLD["started"].set()
            self.connection.settimeout(20)
            try:
                if self.connection.recv(1) == b"":
                    HOLD["closed"].set()
            except ConnectionError:
                HOLD["closed"].set()
            except OSError:
                pass
            self.close_connection = True
            return
        if path.startswith("/big"):
            n = int(path.split("n=")[1])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = bytes(range(256)) * 4096
            left = n
            while left:
                piece = block[: min(left, len(block))]
                self.wfile.write(piece)
                left -= len(piece)
            return
        if path.startswith("/gzip"):
            payload = json.dumps({"hello": "gzip", "pad": "x" * 2000}).encode()
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                return self._send(200, gzip.compress(payload), extra=[("Content-Encoding", "gzip")])
            return self._send(200, payload)
        if path.startswith("/sse"):
            n = int(re.search(r"n=(\d+)", path).group(1))
            delay = int(re.search(r"delay_ms=(\d+)", path).group(1)) / 1000
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(n):
                event = f"data: {{\"i\":{i},\"t\":{time.time():.6f}}}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
                time.sleep(delay)
            self.wfile.write(b"0\r\n\r\n")
            return
        echo = {"method": self.command, "path": path, "body_sha256": digest, "body_length": length,
                "headers": {k.lower(): v for k, v in self.headers.items()}}
        self._send(200, json.dumps(echo).encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


@pytest.fixture
def stand_in():
    """Base URL (no /v1) of the stand-in upstream."""
    for event in HOLD.values():
        event.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
