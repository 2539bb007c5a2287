"""The web admin in a real browser: headless Chromium loads the list, an exchange and the stats page of a data
directory filled through the real proxy (mock upstream, official OpenAI SDK), the test asserts on the rendered
DOM (`--dump-dom`) and saves screenshots under .build/ui-screenshots/ (`make test` installs Debian's chromium)."""
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse

import pytest

from test_web_util import ZH_QUESTION, fill, row_ids, start_web_proxy, wait_until

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHOTS = os.path.join(REPO, ".build", "ui-screenshots")


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = chromium_binary()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed: sudo apt-get install -y chromium (make test does it as root)")


PROFILE = tempfile.mkdtemp(prefix="moonpalace-chromium-")


def chromium(*args, timeout=90):
    profile = PROFILE
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-extensions", f"--user-data-dir={profile}", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd}: {out.stderr[-2000:]}"
    return out.stdout


def dump_dom(url):
    return chromium("--timeout=4000", "--dump-dom", url)


def screenshot(url, name, height=1400):
    path = os.path.join(SHOTS, name)
    if os.path.exists(path):
        os.unlink(path)
    chromium("--timeout=4000", f"--window-size=1400,{height}", f"--screenshot={path}", url)
    assert os.path.getsize(path) > 20_000, f"{path} is suspiciously small"
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    return path


@pytest.fixture(scope="module")
def browsed(moonpalace_bin, tmp_path_factory):
    from conftest import _launch, _stop
    os.makedirs(SHOTS, exist_ok=True)
    mock = _launch([moonpalace_bin, "mock", "--port", "0"], r"(http://127\.0\.0\.1:\d+/v1)", 30, {})
    web = start_web_proxy(moonpalace_bin, mock.match.group(1), tmp_path_factory.mktemp("browser"))
    fill(web.base_url)
    def settled():
        page = web.get("/palace/").text
        return len(row_ids(page)) >= 6 and "inflight" not in page
    assert wait_until(settled, timeout=15)
    yield web
    web.stop()
    _stop(mock.popen)
    shutil.rmtree(PROFILE, ignore_errors=True)


def test_list_page_in_chromium(browsed):
    dom = dump_dom(browsed.url)
    ids = row_ids(dom)
    assert len(ids) >= 6 and ids == sorted(ids, reverse=True)
    assert 'id="filters"' in dom and 'id="predicate"' in dom
    assert "kimi-k2-0905-preview" in dom and 'class="badge stream"' in dom
    assert re.search(r'<tr id="x\d+" class="x err"', dom), "the 500 is marked as an error"
    screenshot(browsed.url, "list.png", height=900)
    # a bad predicate renders its error with the caret in the browser too
    bad = dump_dom(browsed.url + "?" + urllib.parse.urlencode({"p": "status >= "}))
    assert 'id="problem"' in bad and "at column 11" in bad
    screenshot(browsed.url + "?" + urllib.parse.urlencode({"p": "status >= "}), "list-bad-predicate.png", height=500)
    hits = dump_dom(browsed.url + "?" + urllib.parse.urlencode({"q": "月之暗面"}))
    assert "<mark>月之暗面</mark>" in hits and len(row_ids(hits)) == 1


def test_exchange_pages_in_chromium(browsed):
    first = min(row_ids(browsed.get("/palace/").text))
    url = f"{browsed.root}/palace/x/{first}"
    dom = dump_dom(url)
    assert ZH_QUESTION in dom
    assert 'class="msg system' in dom and 'class="msg assistant answer' in dom
    assert "Facts" in dom and "HTTP/1.1 200 OK" in dom
    screenshot(url, "exchange.png", height=1600)
    stream = row_ids(browsed.get("/palace/?model=kimi-k2*").text)[0]
    surl = f"{browsed.root}/palace/x/{stream}"
    sdom = dump_dom(surl)
    assert 'id="timeline"' in sdom and 'id="ttft"' in sdom and "<svg" in sdom and "Merged completion" in sdom
    assert 'data-placement="arrival"' in sdom and 'class="ev"' in sdom and "Events at their recorded arrival" in sdom
    screenshot(surl, "exchange-stream.png", height=1600)
    tool = row_ids(browsed.get("/palace/?" + urllib.parse.urlencode(
        {"p": "request_body.messages.-1.role == 'tool'"})).text)[0]
    tdom = dump_dom(f"{browsed.root}/palace/x/{tool}")
    assert 'class="toolcall"' in tdom or 'class="msg tool' in tdom
    screenshot(f"{browsed.root}/palace/x/{tool}", "exchange-tools.png", height=1400)


def test_stats_page_in_chromium(browsed):
    url = browsed.root + "/palace/stats"
    dom = dump_dom(url)
    assert dom.count("<svg") >= 5 and 'id="stats-summary"' in dom and 'id="stats-table"' in dom
    assert "moonshot-v1-8k" in dom and "Requests per hour" in dom
    screenshot(url, "stats.png", height=1300)


class DevTools:
    """Just enough of the Chrome DevTools Protocol (over a hand-rolled WebSocket client, stdlib only) to drive one
    page: navigate, evaluate JavaScript, take a screenshot."""

    def __init__(self, ws_url):
        import base64
        import socket
        u = urllib.parse.urlsplit(ws_url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(4096)
        head, _, self.buf = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        self.next_id = 0

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            assert chunk, "DevTools connection closed"
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self):
        import struct
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        return b0 & 0x80, b0 & 0x0F, self._read(n)

    def _send(self, text):
        import struct
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                                bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def call(self, method, **params):
        import json
        self.next_id += 1
        mine = self.next_id
        self._send(json.dumps({"id": mine, "method": method, "params": params}))
        message = b""
        while True:
            fin, opcode, payload = self._frame()
            message += payload
            if not fin:
                continue
            if opcode in (1, 0):
                reply = json.loads(message)
                message = b""
                if reply.get("id") == mine:
                    assert "error" not in reply, reply
                    return reply.get("result", {})
            else:
                message = b""

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return r.get("result", {}).get("value")

    def wait_for(self, expression, timeout=20.0):
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")


def test_live_arrival_and_predicate_check_in_chromium(browsed):
    """The page's own script in a real browser: a new exchange appears in the table while it streams (marked in
    flight), turns complete when it ends, and a bad predicate typed into the box is explained at its column."""
    import base64
    import json
    import threading
    import time
    import openai
    proc = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
                             f"--user-data-dir={PROFILE}-cdp", "--window-size=1400,900", "about:blank"],
                            stderr=subprocess.PIPE, text=True)
    try:
        ws = None
        deadline = time.monotonic() + 60
        while ws is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                ws = m.group(1)
        assert ws, "chromium did not open its DevTools port"
        port = urllib.parse.urlsplit(ws).port
        targets = json.loads(fetch_text(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        cdp = DevTools(page["webSocketDebuggerUrl"])
        cdp.call("Page.enable")
        cdp.call("Page.navigate", url=browsed.url)
        cdp.wait_for("document.getElementById('live') && document.getElementById('live').className === 'live on'")
        before = cdp.evaluate("document.querySelectorAll('#rows tr.x').length")

        def slow():
            client = openai.OpenAI(base_url=browsed.base_url, api_key="sk-browser")
            for _ in client.chat.completions.create(model="kimi-browser-live", stream=True,
                                                    messages=[{"role": "user", "content": "take your time"}],
                                                    extra_headers={"X-Mock-Chunk-Delay-Ms": "250", "X-Mock-Chunks": "16"}):
                pass
        t = threading.Thread(target=slow)
        t.start()
        row = "[...document.querySelectorAll('#rows tr.x')].find(tr => tr.textContent.includes('kimi-browser-live'))"
        assert "inflight" in cdp.wait_for(f"(() => {{ const r = {row}; return r && r.className; }})()")
        t.join(60)
        cdp.wait_for(f"(() => {{ const r = {row}; return r && !r.className.includes('inflight') && r.textContent.includes('200'); }})()")
        assert cdp.evaluate("document.querySelectorAll('#rows tr.x').length") == before + 1
        ids = cdp.evaluate("[...document.querySelectorAll('#rows tr.x')].map(tr => Number(tr.dataset.id))")
        assert ids == sorted(ids, reverse=True)
        shot = cdp.call("Page.captureScreenshot", format="png")["data"]
        with open(os.path.join(SHOTS, "list-live.png"), "wb") as f:
            f.write(base64.b64decode(shot))
        # the predicate box: typed, checked by the server, explained under the box with a caret
        cdp.evaluate("(() => { const i = document.getElementById('predicate'); i.value = 'status >= 400 && model ~';"
                     " i.dispatchEvent(new Event('input')); })()")
        text = cdp.wait_for("(() => { const t = document.getElementById('predicate-check').textContent;"
                            " return t.includes('^') && t; })()")
        assert "at column 25" in text
        assert cdp.evaluate("document.getElementById('predicate').classList.contains('invalid')")
        cdp.evaluate("(() => { const i = document.getElementById('predicate'); i.value = 'status >= 400';"
                     " i.dispatchEvent(new Event('input')); })()")
        cdp.wait_for("document.getElementById('predicate-check').textContent === ''")
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(PROFILE + "-cdp", ignore_errors=True)


def fetch_text(url):
    import urllib.request
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()
