"""`moonpalace start`: forwarding fidelity with real clients (OpenAI SDK, curl) against the mock (its API routes, and
its debug routes /_mock/echo, /_mock/bytes for what the API cannot show)."""
import asyncio
import gzip
import hashlib
import json
import os
import signal
import subprocess
import time
import urllib.request

try:
    import httpx
except ImportError:  # the SDK in this venv ships its HTTP client as httpx2
    import httpx2 as httpx
import openai
import pytest

from test_proxy_util import dump_exchanges, normalize_ids, proxy_factory  # noqa: F401 (fixtures)

CHAT = {"model": "moonshot-v1-8k", "messages": [{"role": "user", "content": "Tell me about the moon."}], "seed": 7}


def raw_post(url, body, headers=None):
    with httpx.Client(timeout=30) as c:
        r = c.post(url, content=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})})
        return r.status_code, dict(r.headers), r.content


def test_sdk_sync_async_stream_tools_equal_direct(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    direct = openai.OpenAI(base_url=mock_server, api_key="sk-test-direct-0000")
    via = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test-proxy-1234")

    # sync, non-stream: the body bytes equal the direct ones (ids and clock values blanked)
    d = direct.chat.completions.with_raw_response.create(**CHAT)
    v = via.chat.completions.with_raw_response.create(**CHAT)
    assert normalize_ids(v.http_response.content) == normalize_ids(d.http_response.content)
    assert v.parse().choices[0].message.content == d.parse().choices[0].message.content

    # stream: the same event bytes, and the SDK assembles the same text
    def stream_bytes(base):
        with httpx.stream("POST", base + "/chat/completions", json={**CHAT, "stream": True}, timeout=30) as r:
            return b"".join(r.iter_bytes())
    assert normalize_ids(stream_bytes(proxy.base_url)) == normalize_ids(stream_bytes(mock_server))
    def sdk_text(client):
        return "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(**CHAT, stream=True)
                       if c.choices)
    assert sdk_text(via) == sdk_text(direct) != ""

    # async client
    async def run_async():
        client = openai.AsyncOpenAI(base_url=proxy.base_url, api_key="sk-async")
        results = await asyncio.gather(*[client.chat.completions.create(**CHAT) for _ in range(8)])
        await client.close()
        return results
    results = asyncio.run(run_async())
    assert len({r.choices[0].message.content for r in results}) == 1

    # tool calls, streamed: arguments arrive intact
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    msgs = [{"role": "user", "content": "weather in Paris?"}]
    args = {}
    for chunk in via.chat.completions.create(model="moonshot-v1-8k", messages=msgs, tools=tools, stream=True, seed=3):
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            args[tc.index] = args.get(tc.index, "") + (tc.function.arguments or "")
    assert args and all(json.loads(a) is not None for a in args.values())
    plain = direct.chat.completions.create(model="moonshot-v1-8k", messages=msgs, tools=tools, seed=3)
    assert plain.choices[0].message.tool_calls

    # the records: begin+end for each, stream flag and merged completion for the streams
    exchanges = dump_exchanges(moonpalace_bin, proxy.data_dir)
    assert len(exchanges) >= 12
    assert all(x["end"] is not None for x in exchanges.values())
    streams = [x["end"] for x in exchanges.values() if "stream" in x["end"]["flags"] and x["end"].get("chatcmpl_id")]
    assert streams and all(json.loads(e["merged_completion"])["object"] == "chat.completion" for e in streams)
    assert all(e["usage"]["total_tokens"] > 0 for e in streams if "usage" in e)
    begin = next(iter(exchanges.values()))["begin"]
    assert all("sk-test" not in h for h in json.dumps(begin["request_headers"]).split(","))


def test_errors_pass_through_and_sdk_raises(mock_server, proxy_factory):
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    via = openai.OpenAI(base_url=proxy.base_url, api_key="sk-x", max_retries=0)
    for scenario, exc, status in [("unauthorized", openai.AuthenticationError, 401),
                                  ("rate-limit", openai.RateLimitError, 429),
                                  ("error-500", openai.InternalServerError, 500),
                                  ("content-filter", openai.BadRequestError, 400)]:
        with pytest.raises(exc) as info:
            via.chat.completions.create(**CHAT, extra_headers={"X-Mock-Scenario": scenario})
        assert info.value.status_code == status
        d_status, _, d_body = raw_post(mock_server + "/chat/completions", CHAT, {"X-Mock-Scenario": scenario})
        p_status, _, p_body = raw_post(proxy.base_url + "/chat/completions", CHAT, {"X-Mock-Scenario": scenario})
        assert (p_status, normalize_ids(p_body)) == (d_status, normalize_ids(d_body))


def test_curl_bytes_equal_direct(mock_server, proxy_factory):
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    body = json.dumps({**CHAT, "stream": True})
    def curl(base):
        return subprocess.run(["curl", "-sS", "-N", base + "/chat/completions", "-H", "Content-Type: application/json",
                               "-d", body], capture_output=True, timeout=30, check=True).stdout
    assert normalize_ids(curl(proxy.base_url)) == normalize_ids(curl(mock_server))
    models = lambda base: subprocess.run(["curl", "-sS", base + "/models"], capture_output=True, check=True).stdout
    assert models(proxy.base_url) == models(mock_server)


def test_query_methods_headers_and_key(mock_server, proxy_factory):
    # every forwarded request comes back as the mock's echo of what it received
    proxy = proxy_factory(mock_server.removesuffix("/v1") + "/_mock/echo", "--key", "sk-injected-key-9876")
    with httpx.Client(timeout=10) as c:
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]:
            r = c.request(method, proxy.root + "/v1/files?purpose=file-extract&limit=2&q=a%20b",
                          content=b"payload" if method in ("POST", "PUT", "PATCH") else None,
                          headers={"Authorization": "Bearer client-key", "X-Custom": "kept",
                                   "Connection": "keep-alive, X-Hop", "X-Hop": "dropped"})
            assert r.status_code == 200, r.text
            echo = r.json()
            assert echo["method"] == method
            assert echo["path"] == "/v1/files?purpose=file-extract&limit=2&q=a%20b"
            assert echo["body_length"] == (7 if method in ("POST", "PUT", "PATCH") else 0)
            if echo["body_length"]:
                assert echo["body_sha256"] == hashlib.sha256(b"payload").hexdigest()
            assert echo["headers"]["authorization"] == "Bearer sk-injected-key-9876"
            assert echo["headers"]["x-custom"] == "kept"
            assert "x-hop" not in echo["headers"]
        head = c.head(proxy.root + "/v1/anything")
        assert head.status_code == 200 and head.content == b""
    # the log block never shows the key; the banner is exact
    assert "sk-injected-key-9876" not in proxy.output
    assert f'MoonPalace Starts => change base_url to "{proxy.base_url}"' in proxy.output


def test_gzip_client_gets_what_it_asked_for(mock_server, proxy_factory, moonpalace_bin):
    # X-Mock-Gzip: the mock compresses when (and only when) the request's Accept-Encoding allows gzip
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    req = urllib.request.Request(proxy.base_url + "/models", headers={"Accept-Encoding": "gzip", "X-Mock-Gzip": "1"})
    with urllib.request.urlopen(req) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        assert json.loads(gzip.decompress(r.read()))["object"] == "list"
    req = urllib.request.Request(proxy.base_url + "/models", headers={"Accept-Encoding": "identity", "X-Mock-Gzip": "1"})
    with urllib.request.urlopen(req) as r:
        assert r.headers.get("Content-Encoding") is None
        assert json.loads(r.read())["object"] == "list"
    # both records hold the decoded body; the passed-through one is flagged gzip_response
    ends = [x["end"] for _, x in sorted(dump_exchanges(moonpalace_bin, proxy.data_dir).items())]
    assert len(ends) == 2
    assert all(json.loads(e["response_body"])["object"] == "list" for e in ends)
    assert "gzip_response" in ends[0]["flags"] and "gzip_response" not in ends[1]["flags"]


def test_browser_root_page_and_v1_forwarded(mock_server, proxy_factory):
    proxy = proxy_factory(mock_server.removesuffix("/v1") + "/_mock/echo")
    r = httpx.get(proxy.root + "/")
    assert r.status_code == 200 and "MoonPalace" in r.text and "/v1" in r.text
    assert httpx.get(proxy.root + "/v1/").json()["path"] == "/v1/"


def test_large_upload_and_download_stream_with_bounded_memory(mock_server, proxy_factory):
    from test_proxy_util import rss_kib
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    size = 100 * 1024 * 1024
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    def gen():
        for _ in range(100):
            digest.update(block)
            yield block
    with httpx.Client(timeout=120) as c:
        r = c.post(proxy.root + "/_mock/echo/v1/files", content=gen())
        assert r.status_code == 200
        assert r.json()["body_length"] == size and r.json()["body_sha256"] == digest.hexdigest()
        got, head = 0, b""
        with c.stream("GET", proxy.root + f"/_mock/bytes?n={size}") as resp:
            assert resp.headers["content-length"] == str(size)
            for piece in resp.iter_bytes():
                if len(head) < 1024:
                    head += piece[:1024 - len(head)]
                got += len(piece)
        assert got == size and head == bytes(range(256)) * 4
    assert rss_kib(proxy.process.popen.pid) < 200 * 1024


def test_bad_flags_are_clear_errors(moonpalace_bin, tmp_path):
    r = subprocess.run([moonpalace_bin, "start", "--port", "70000", "--data-dir", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode != 0 and "70000" in r.stderr
    r = subprocess.run([moonpalace_bin, "start", "--sync", "sometimes", "--data-dir", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode != 0 and "always, batch or none" in r.stderr
    help_text = subprocess.run([moonpalace_bin, "start", "--help"], capture_output=True, text=True).stdout
    assert "--key" in help_text and "--upstream-idle-timeout" in help_text and "9988" in help_text


def test_endpoint_mock_runs_offline(proxy_factory, moonpalace_bin):
    proxy = proxy_factory("mock")
    client = openai.OpenAI(base_url=proxy.base_url, api_key="sk-offline")
    answer = client.chat.completions.create(**CHAT)
    assert answer.object == "chat.completion" and answer.choices[0].message.content
    x = dump_exchanges(moonpalace_bin, proxy.data_dir)
    assert len(x) == 1 and list(x.values())[0]["end"]["chatcmpl_id"] == answer.id


def test_environment_proxy_is_used_for_upstream(mock_server, proxy_factory):
    # curl honours http_proxy/HTTPS_PROXY/NO_PROXY. The upstream's name does not resolve, so a request for it can only
    # reach the mock through http_proxy: the mock, as the forward proxy, echoes it with that name as its Host.
    forward = mock_server.removesuffix("/v1")
    proxy = proxy_factory("http://upstream.example.invalid/_mock/echo", env={"http_proxy": forward, "NO_PROXY": ""})
    echo = httpx.get(proxy.root + "/v1/models?x=1", timeout=10).json()
    assert echo["host"] == "upstream.example.invalid" and echo["headers"]["host"] == "upstream.example.invalid"
    assert echo["target"] == "/_mock/echo/v1/models?x=1" and echo["path"] == "/v1/models?x=1"
    proxy = proxy_factory("http://upstream.example.invalid/_mock/echo",
                          env={"http_proxy": forward, "NO_PROXY": "upstream.example.invalid"})
    r = httpx.get(proxy.root + "/v1/models", timeout=30)
    assert r.status_code == 502 and r.json()["error"]["type"] == "connect"


def test_sse_events_arrive_as_soon_as_direct(mock_server, proxy_factory):
    """Each event's delay from the mock's write (its `: t=` stamp, X-Mock-Timestamps) to the client, direct vs proxied."""
    import socket
    import statistics
    import time as clock
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    body = json.dumps({**CHAT, "stream": True}).encode()

    def lags(port):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                  b"X-Mock-Chunks: 30\r\nX-Mock-Chunk-Delay-Ms: 40\r\nX-Mock-Timestamps: 1\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        out, buf = [], b""
        while True:
            piece = s.recv(65536)
            now = clock.time()
            if not piece:
                break
            buf += piece
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                if b": t=" in event:
                    out.append(now - float(event.split(b": t=")[1].split(b"\n")[0]))
        s.close()
        return out

    # Events are written 40 ms apart. A proxy that buffers (MoonPalace's 4 KB bursts) delays most events by one or
    # more periods on every try; one that relays each event at once adds well under a period. On a loaded 2-core
    # machine a whole process can still be held up for a few periods once in a while (seen: 150-300 ms at load 12),
    # so up to three tries are made and one clean try passes; buffering fails all three.
    # The budget figure (added ms, paced first byte) is measured by Benchmarks/proxy.sh, not asserted here.
    period = 0.040
    failures = []
    for _ in range(3):
        direct = lags(int(mock_server.rsplit(":", 1)[1].split("/")[0]))
        proxied = lags(proxy.port)
        # role chunk + 30 content chunks + finish chunk + [DONE]
        assert len(direct) == len(proxied) == 33
        added = sorted(p - statistics.median(direct) for p in proxied)
        print("direct ms", [round(d * 1000, 2) for d in sorted(direct)], "added ms", [round(a * 1000, 2) for a in added])
        median, p90 = added[len(added) // 2], added[int(len(added) * 0.9)]
        if median <= period / 5 and p90 <= period / 2:
            return
        failures.append(f"median {median * 1000:.3f} ms, p90 {p90 * 1000:.3f} ms")
    pytest.fail("added latency over budget on every try: " + "; ".join(failures))


def test_log_blocks_are_whole_in_order_and_flushed_at_shutdown(mock_server, proxy_factory, moonpalace_bin):
    # Blocks are written after the client's response (several per write(2) under load): each block must still come
    # out whole (never interleaved), name its own exchange id, and none may be lost when the proxy stops.
    proxy = proxy_factory(mock_server.removesuffix("/v1"))

    async def burst():
        client = openai.AsyncOpenAI(base_url=proxy.base_url, api_key="sk-blocks")
        results = await asyncio.gather(*[client.chat.completions.create(**CHAT, stream=(i % 2 == 1)) for i in range(40)])
        for r in results:
            if hasattr(r, "__aiter__"):
                async for _ in r:
                    pass
        await client.close()
    asyncio.run(burst())
    proxy.process.popen.send_signal(signal.SIGTERM)
    assert proxy.process.popen.wait(timeout=15) == 0
    time.sleep(0.2)   # the output pump's last lines
    ids, block = [], None
    for line in proxy.output.splitlines():
        if " POST   /v1/chat/completions " in line:
            assert block is None, f"a block began inside another one: {line!r}"
            assert line.startswith("[MoonPalace] ")
            block = []
        elif block is not None:
            assert line.startswith("  "), f"a block was interrupted by {line!r}"
            if "New Row Inserted: last_insert_id=" in line:
                ids.append(int(line.rsplit("=", 1)[1]))
                block = None
    assert block is None
    recorded = dump_exchanges(moonpalace_bin, proxy.data_dir)
    assert sorted(ids) == sorted(recorded) and len(ids) == 40
    assert all(recorded[i]["end"] is not None for i in ids)
