"""Helpers for the web admin's end-to-end tests (imported by test_web*.py; holds no tests itself).

- `WebServer` / `start_web_proxy(...)`: `moonpalace start --port 0` in front of a mock, with the admin at /palace/.
- `fetch(url, ...)`: one HTTP request with http.client (no redirects followed, no cookie jar): status, headers, body.
- `fill(proxy_base)`: drives varied traffic through the proxy with the official OpenAI SDK and curl.
"""
import http.client
import json
import re
import subprocess
import time
import urllib.parse

import openai

from conftest import _launch, _stop, wait_until  # noqa: F401

WEB_BANNER = r"MoonPalace web admin => (http://127\.0\.0\.1:(\d+)/palace/)"
ZH_QUESTION = "月之暗面是一家什么样的公司？请用中文回答。"


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8")

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]


def fetch(url, method="GET", body=None, headers=None, timeout=30):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    path = u.path + ("?" + u.query if u.query else "")
    if isinstance(body, dict):
        body = urllib.parse.urlencode(body)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    out = Response(r.status, r.getheaders(), r.read())
    conn.close()
    return out


class WebServer:
    def __init__(self, process, data_dir):
        self.process = process
        self.url = process.match.group(1)            # http://127.0.0.1:PORT/palace/
        self.port = int(process.match.group(2))
        self.root = f"http://127.0.0.1:{self.port}"
        self.base_url = self.root + "/v1"
        self.data_dir = data_dir

    def get(self, path, **kw):
        return fetch(self.root + path, **kw)

    def csrf(self, path="/palace/"):
        page = self.get(path)
        m = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
        assert m, page.text[:500]
        return m.group(1)

    def stop(self):
        _stop(self.process.popen)


def start_web_proxy(moonpalace_bin, upstream, data_dir, *extra, env=None):
    process = _launch([moonpalace_bin, "start", "--port", "0", "--endpoint", upstream, "--data-dir", str(data_dir), *extra],
                      WEB_BANNER, 60, {"NO_COLOR": "1", **(env or {})})
    return WebServer(process, str(data_dir))


def start_web_alone(moonpalace_bin, data_dir, *extra, ready=WEB_BANNER, env=None):
    """`moonpalace web` on `data_dir` (None: the data directory the configuration names)."""
    where = [] if data_dir is None else ["--data-dir", str(data_dir)]
    return _launch([moonpalace_bin, "web", "--port", "0", *where, *extra], ready, 60, {"NO_COLOR": "1", **(env or {})})


TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def fill(base_url):
    """Varied traffic; returns a dict naming what was sent (the ids are found through the list page)."""
    client = openai.OpenAI(base_url=base_url, api_key="sk-web-test-key-abcd1234")
    client.chat.completions.create(model="moonshot-v1-8k", messages=[
        {"role": "system", "content": "你是 Kimi，由 Moonshot AI 提供的人工智能助手。"},
        {"role": "user", "content": ZH_QUESTION}], seed=1)
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="kimi-k2-0905-preview", messages=[{"role": "user", "content": "Stream a story about the moon."}],
        stream=True, seed=2, extra_headers={"X-Mock-Chunks": "25", "X-Mock-Chunk-Delay-Ms": "20"}) if c.choices)
    tool = client.chat.completions.create(model="moonshot-v1-8k", tools=TOOLS, seed=3,
                                          messages=[{"role": "user", "content": "weather in Paris?"}])
    call = tool.choices[0].message.tool_calls[0]
    client.chat.completions.create(model="moonshot-v1-8k", tools=TOOLS, seed=4, messages=[
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "name": "get_weather", "content": '{"temp_c": 21, "sky": "晴"}'}])
    try:
        client.with_options(max_retries=0).chat.completions.create(
            model="moonshot-v1-8k", messages=[{"role": "user", "content": "fail please"}],
            extra_headers={"X-Mock-Scenario": "error-500"})
    except openai.APIStatusError:
        pass
    huge = "月" * 200_000 + "END-OF-HUGE"          # 600 KB of UTF-8, above the 256 KiB display limit
    client.chat.completions.create(model="moonshot-v1-32k", messages=[{"role": "user", "content": huge}], max_tokens=8, seed=5)
    return {"stream_text": text, "tool_call_id": call.id, "exchanges": 6}


def row_ids(html):
    return [int(x) for x in re.findall(r'<tr id="x(\d+)"', html)]


def log_annotations(moonpalace_bin, data_dir):
    out = subprocess.run([moonpalace_bin, "log", "dump", "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{") and '"annotation"' in l]


def sse_events(url, stop, timeout=30):
    """Reads server-sent events from `url` until `stop(events)` is true; returns (events, seconds per event)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    conn.request("GET", u.path + ("?" + u.query if u.query else ""), headers={"Accept": "text/event-stream"})
    r = conn.getresponse()
    assert r.status == 200, r.read()[:300]
    events, current, started = [], {}, time.monotonic()
    while time.monotonic() - started < timeout:
        line = r.readline().decode("utf-8")
        if line == "":
            break
        line = line.rstrip("\n")
        if line == "":
            if current:
                current["at"] = time.monotonic()
                events.append(current)
                current = {}
                if stop(events):
                    break
            continue
        if line.startswith(":"):
            continue
        k, _, v = line.partition(":")
        current[k] = current.get(k, "") + v.lstrip(" ")
    conn.close()
    return events
