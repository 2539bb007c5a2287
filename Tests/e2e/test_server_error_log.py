"""MoonPalace's server_error.log: the proxy's HTTP server errors go to <data>/server_error.log (private, append-only),
not to the terminal and not into the exchange log."""
import json
import os
import socket
import stat
import subprocess
import urllib.request

from conftest import wait_until

from test_proxy_util import BANNER


def test_broken_http_from_a_client_is_written_to_server_error_log(moonpalace_bin, start_process, tmp_path):
    data = tmp_path / "data"
    proc = start_process([moonpalace_bin, "start", "--port", "0", "--endpoint", "mock", "--data-dir", data],
                         BANNER, env={"NO_COLOR": "1"})
    base = proc.match.group(1)
    path = data / "server_error.log"
    assert path.exists() and path.read_text() == ""                      # created at start, empty
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600                    # private (MoonPalace: 0666)

    port = int(base.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GARBAGE \x01\x02 HTTP/9\r\n\r\n")
        reply = sock.recv(1000)
    assert reply.startswith(b"HTTP/1.1 400"), reply

    assert wait_until(lambda: "invalid HTTP method" in path.read_text(), timeout=5), path.read_text()
    line = path.read_text().splitlines()[0]
    assert " error client " in line and "127.0.0.1" in line, line
    assert "invalid HTTP method" not in proc.output                        # the terminal shows exchanges only

    # A good exchange afterwards works and adds nothing to the file; it is listed as usual.
    req = urllib.request.Request(base + "/chat/completions", method="POST",
                                 data=json.dumps({"model": "kimi-k2", "messages": [{"role": "user", "content": "hi"}]}).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer sk-test"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    assert len(path.read_text().splitlines()) == 1
    listed = subprocess.run([moonpalace_bin, "list", "--json", "--data-dir", data], capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert len([l for l in listed.stdout.splitlines() if l.strip()]) == 1
