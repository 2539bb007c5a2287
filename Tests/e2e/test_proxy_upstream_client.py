"""The two upstream clients of `moonpalace start` (MOONPALACE_UPSTREAM_CLIENT): libcurl on its own thread and
SwiftNIO on the client connection's event loop (the default for plain-http endpoints without a proxy). The rest of
the proxy tests run against the mock over plain http, so they exercise the NIO client; the Makefile runs a core
subset again with MOONPALACE_UPSTREAM_CLIENT=curl. Here: both clients side by side on the same requests."""
import http.client
import json
import os
import socket
import subprocess
import time

import pytest

try:
    import httpx
except ImportError:  # the SDK in this venv ships its HTTP client as httpx2
    import httpx2 as httpx

from test_proxy_util import dump_exchanges, proxy_factory  # noqa: F401 (fixtures)
from conftest import wait_until

CURL_DECODES = "deflate, gzip, br, zstd"   # what libcurl offers when it decodes for the client (zlib, brotli, zstd)
NIO_DECODES = "deflate, gzip"              # the NIO client decodes gzip and deflate only


def raw_request(port, method, target, headers, body=None, chunked=False):
    """One request with the target exactly as given (no normalisation), over a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
    for name, value in headers:
        conn.putheader(name, value)
    if body is not None and not chunked:
        conn.putheader("Content-Length", str(len(body)))
    if chunked:
        conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    if body is not None:
        if chunked:
            for i in range(0, len(body), 7):
                part = body[i:i + 7]
                conn.send(b"%x\r\n%s\r\n" % (len(part), part))
            conn.send(b"0\r\n\r\n")
        else:
            conn.send(body)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, r.getheaders(), data


REQUESTS = [
    ("GET", "/_mock/echo/a/../b//c?x=1&y=%2F&z", [("User-Agent", "t/1")], None, False),
    ("GET", "/_mock/echo/q", [("Accept", "application/json"), ("X-Empty", ""), ("X-Dup", "1"), ("X-Dup", "2")], None, False),
    ("POST", "/_mock/echo/post", [("Content-Type", "application/json")], b'{"a":1}', False),
    ("POST", "/_mock/echo/form", [], b"a=1&b=2", False),
    ("POST", "/_mock/echo/chunked", [("Content-Type", "text/plain")], b"hello chunked world " * 50, True),
    ("PUT", "/_mock/echo/put-empty", [("Accept-Encoding", "gzip")], None, False),
    ("DELETE", "/_mock/echo/del", [("Authorization", "Bearer sk-abcdefgh1234")], None, False),
    ("PATCH", "/_mock/echo/patch", [("Expect", "100-continue")], b"x" * 3000, False),
]


def test_upstream_receives_the_same_request_from_both_clients(mock_server, proxy_factory):
    root = mock_server.removesuffix("/v1")
    curl = proxy_factory(root, env={"MOONPALACE_UPSTREAM_CLIENT": "curl"})
    nio = proxy_factory(root, env={"MOONPALACE_UPSTREAM_CLIENT": "nio"})
    for method, target, headers, body, chunked in REQUESTS:
        echoes = {}
        for name, proxy in (("curl", curl), ("nio", nio)):
            status, _, data = raw_request(proxy.port, method, target, headers, body, chunked)
            assert status == 200, (name, method, target, data)
            echoes[name] = json.loads(data)
        a, b = echoes["curl"], echoes["nio"]
        # The one difference: the encodings offered when the proxy decodes for a client that did not ask for gzip.
        if a["headers"].get("accept-encoding") == CURL_DECODES:
            assert b["headers"].get("accept-encoding") == NIO_DECODES, (target, b)
            a["headers"]["accept-encoding"] = b["headers"]["accept-encoding"] = "decoded"
        assert a == b, (method, target)
        # Header order too (the echo's JSON keeps the order received).
        assert list(a["headers"]) == list(b["headers"]), (method, target)
        assert "expect" not in b["headers"]
        assert b["target"] == target   # path and query as sent, no normalisation


def test_head_and_no_body_answers(mock_server, proxy_factory):
    root = mock_server.removesuffix("/v1")
    for client in ("curl", "nio"):
        proxy = proxy_factory(root, env={"MOONPALACE_UPSTREAM_CLIENT": client})
        status, headers, data = raw_request(proxy.port, "HEAD", "/_mock/echo/h", [])
        assert status == 200 and data == b""
        assert int(dict((k.lower(), v) for k, v in headers)["content-length"]) > 0
        # the connection pool survives a HEAD: the next requests on the same upstream connection still work
        for _ in range(3):
            r = httpx.get(proxy.root + "/v1/models", timeout=10)
            assert r.status_code == 200 and r.json()["object"] == "list"


def test_gzip_records_equal_for_both_clients(mock_server, proxy_factory, moonpalace_bin):
    root = mock_server.removesuffix("/v1")
    seen = {}
    for client in ("curl", "nio"):
        proxy = proxy_factory(root, env={"MOONPALACE_UPSTREAM_CLIENT": client})
        got = []
        for accept in ("identity", "gzip"):
            r = httpx.get(proxy.root + "/v1/models", headers={"Accept-Encoding": accept, "X-Mock-Gzip": "1"}, timeout=10)
            assert r.status_code == 200 and r.json()["object"] == "list"
            got.append((r.headers.get("content-encoding"), r.json()))
        x = wait_until(lambda: [e for e in dump_exchanges(moonpalace_bin, proxy.data_dir).values() if e["end"]], 10)
        assert len(x) == 2
        ends = sorted((e["end"] for e in x), key=lambda e: e["exchange"])
        seen[client] = (got, [(sorted(e.get("flags", [])), e["status"]) for e in ends])
    assert seen["curl"] == seen["nio"]
    assert seen["nio"][0][0][0] is None and seen["nio"][0][1][0] == "gzip"


def test_restarted_upstream_does_not_fail_requests(moonpalace_bin, start_process, proxy_factory):
    """Kept-alive upstream connections that the server closed while idle are dropped, never used for a request."""
    from conftest import MOCK_READY, free_port
    port = free_port()
    mock = start_process([moonpalace_bin, "mock", "--port", str(port)], MOCK_READY)
    proxy = proxy_factory(f"http://127.0.0.1:{port}")
    with httpx.Client(timeout=10) as client:
        for _ in range(5):
            assert client.get(proxy.base_url + "/models").status_code == 200
        mock.popen.terminate()
        mock.popen.wait(timeout=10)
        start_process([moonpalace_bin, "mock", "--port", str(port)], MOCK_READY)
        for _ in range(5):
            r = client.get(proxy.base_url + "/models")
            assert r.status_code == 200, r.text


def upstream_connections(pid, port):
    """Established TCP connections of process `pid` to 127.0.0.1:`port` (from /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            remote, state, inode = cols[2], cols[3], cols[9]
            if state == "01" and inode in inodes and int(remote.split(":")[1], 16) == port:
                n += 1
    return n


@pytest.mark.parametrize("client", ["curl", "nio"])
def test_upstream_connections_are_kept_alive(mock_server, proxy_factory, client):
    root = mock_server.removesuffix("/v1")
    port = int(root.rsplit(":", 1)[1])
    proxy = proxy_factory(root, env={"MOONPALACE_UPSTREAM_CLIENT": client})
    with httpx.Client(timeout=10) as c:
        for _ in range(20):
            assert c.post(proxy.base_url + "/chat/completions",
                          json={"model": "moonshot-v1-8k", "messages": [{"role": "user", "content": "hi"}]}).status_code == 200
    assert 1 <= upstream_connections(proxy.process.popen.pid, port) <= 2


def test_unknown_client_setting_is_refused(moonpalace_bin, mock_server, tmp_path):
    out = subprocess.run([moonpalace_bin, "start", "--port", "0", "--endpoint", mock_server, "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=30,
                         env={**os.environ, "MOONPALACE_UPSTREAM_CLIENT": "libcurl"})
    assert out.returncode != 0
    assert "MOONPALACE_UPSTREAM_CLIENT=libcurl" in out.stderr and "auto" in out.stderr and "nio" in out.stderr


PROXY_VARS = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY")


def test_auto_uses_nio_for_plain_http_and_curl_where_a_proxy_applies(mock_server, proxy_factory):
    """The default setting (auto) chooses per endpoint: SwiftNIO for the plain-http mock; libcurl once a proxy variable
    applies (the request then goes to that proxy: here a closed port, so a connect failure); SwiftNIO again when
    no_proxy exempts the host. Which client sent a request shows in the encodings it offers when it decodes."""
    from conftest import free_port
    root = mock_server.removesuffix("/v1")
    unset = {name: "" for name in PROXY_VARS}   # empty = unset, for curl and for the choice alike

    def offered(proxy):
        status, _, data = raw_request(proxy.port, "GET", "/_mock/echo/auto", [])
        assert status == 200, data
        return json.loads(data)["headers"].get("accept-encoding")

    assert offered(proxy_factory(root, env=unset)) == NIO_DECODES

    dead = f"http://127.0.0.1:{free_port()}"
    proxied = proxy_factory(root, env={**unset, "http_proxy": dead})
    status, _, data = raw_request(proxied.port, "GET", "/_mock/echo/auto", [])
    assert status == 502, data
    assert json.loads(data)["error"]["type"] == "connect"

    exempt = proxy_factory(root, env={**unset, "http_proxy": dead, "no_proxy": "localhost,127.0.0.1",
                                      "NO_PROXY": "localhost,127.0.0.1"})
    assert offered(exempt) == NIO_DECODES
