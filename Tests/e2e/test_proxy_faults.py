"""`moonpalace start`: every failure gives the client a clear error and the log a record with the right step."""
import json
import socket
import time

import openai
import pytest

from test_proxy_util import dump_exchanges, mock_events, proxy_factory  # noqa: F401 (fixtures)
from conftest import free_port, wait_until

try:
    import httpx
except ImportError:  # the SDK in this venv ships its HTTP client as httpx2
    import httpx2 as httpx

CHAT = {"model": "moonshot-v1-8k", "messages": [{"role": "user", "content": "hello"}]}


def last_exchange(moonpalace_bin, data_dir, count=1):
    found = wait_until(lambda: (lambda x: x if len(x) >= count and all(e["end"] for e in x.values()) else None)(
        dump_exchanges(moonpalace_bin, data_dir)), timeout=5)
    assert found, f"expected {count} complete exchange(s) in the log, got {dump_exchanges(moonpalace_bin, data_dir)}"
    return found[max(found)]


def failure_step(exchange):
    failure = exchange["end"].get("failure") or {}
    return failure.get("step")


def post(url, body, headers=None, timeout=30):
    return httpx.post(url, json=body, headers=headers or {}, timeout=timeout)


def test_dead_upstream_is_connect_502(proxy_factory, moonpalace_bin):
    proxy = proxy_factory(f"http://127.0.0.1:{free_port()}")
    r = post(proxy.base_url + "/chat/completions", CHAT)
    assert r.status_code == 502
    err = r.json()["error"]
    assert err["code"] == "proxy_server_error" and err["type"] == "connect" and "127.0.0.1" in err["message"]
    with pytest.raises(openai.APIStatusError) as info:
        openai.OpenAI(base_url=proxy.base_url, api_key="k", max_retries=0).chat.completions.create(**CHAT)
    assert info.value.status_code == 502
    assert failure_step(last_exchange(moonpalace_bin, proxy.data_dir, 2)) == "connect"
    assert "connect:" in proxy.output


def test_silent_upstream_times_out_with_504(mock_server, proxy_factory, moonpalace_bin):
    # slow-head with a 30 s head delay: the mock answers nothing for longer than the proxy's 1 s idle timeout
    proxy = proxy_factory(mock_server.removesuffix("/v1"), "--upstream-idle-timeout", "1")
    started = time.monotonic()
    r = post(proxy.base_url + "/chat/completions", CHAT,
             {"X-Mock-Scenario": "slow-head", "X-Mock-Head-Delay-Ms": "30000"})
    assert r.status_code == 504 and r.json()["error"]["type"] == "timeout"
    assert time.monotonic() - started < 10
    assert failure_step(last_exchange(moonpalace_bin, proxy.data_dir)) == "timeout"


def test_slow_head_within_idle_timeout_passes(mock_factory, proxy_factory):
    mock = mock_factory("--head-delay-ms", "1500")
    proxy = proxy_factory(mock.removesuffix("/v1"), "--upstream-idle-timeout", "5")
    r = post(proxy.base_url + "/chat/completions", CHAT, {"X-Mock-Scenario": "slow-head"})
    assert r.status_code == 200 and r.json()["object"] == "chat.completion"


@pytest.mark.parametrize("stream", [False, True])
def test_dropped_upstream_body_is_read_response_body(mock_server, proxy_factory, moonpalace_bin, stream):
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    body = {**CHAT, "stream": stream}
    try:
        with httpx.stream("POST", proxy.base_url + "/chat/completions", json=body,
                          headers={"X-Mock-Scenario": "drop"}, timeout=30) as r:
            status = r.status_code
            text = b"".join(r.iter_bytes())
    except (httpx.RemoteProtocolError, httpx.ReadError):
        status, text = 200, b""
    if stream:
        # the stream had started: the client sees the cut (an error event, then a broken connection)
        assert status == 200
    else:
        assert status == 502 and json.loads(text)["error"]["type"] == "read_response_body"
    assert failure_step(last_exchange(moonpalace_bin, proxy.data_dir)) == "read_response_body"


@pytest.mark.parametrize("scenario,status", [("error-500", 500), ("error-502", 502), ("error-503", 503),
                                             ("rate-limit", 429), ("quota", 429), ("unauthorized", 401),
                                             ("content-filter", 400)])
def test_upstream_errors_pass_through_and_are_recorded(mock_server, proxy_factory, moonpalace_bin, scenario, status):
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    direct = post(mock_server + "/chat/completions", CHAT, {"X-Mock-Scenario": scenario})
    r = post(proxy.base_url + "/chat/completions", CHAT, {"X-Mock-Scenario": scenario})
    assert r.status_code == direct.status_code == status
    assert r.headers.get("content-type") == direct.headers.get("content-type")
    x = last_exchange(moonpalace_bin, proxy.data_dir)
    assert x["end"]["status"] == status and failure_step(x) is None
    assert wait_until(lambda: "Moonshot Error" in proxy.output, timeout=10)   # printed after the response


@pytest.mark.parametrize("scenario", ["split-sse", "no-final-newline", "length", "huge"])
def test_stream_shapes_pass_and_merge(mock_server, proxy_factory, moonpalace_bin, scenario):
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", mock_server + "/chat/completions", json=body, headers={"X-Mock-Scenario": scenario},
                      timeout=120) as r:
        direct = b"".join(r.iter_bytes())
    with httpx.stream("POST", proxy.base_url + "/chat/completions", json=body, headers={"X-Mock-Scenario": scenario},
                      timeout=120) as r:
        via = b"".join(r.iter_bytes())
    assert len(via) == len(direct)
    x = last_exchange(moonpalace_bin, proxy.data_dir)
    assert failure_step(x) is None and x["end"]["status"] == 200
    if scenario == "length":
        assert "max_tokens" in proxy.output


def test_client_disconnect_mid_stream_is_recorded(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    headers = {"X-Mock-Chunk-Delay-Ms": "50", "X-Mock-Chunks": "200"}
    with httpx.stream("POST", proxy.base_url + "/chat/completions", json={**CHAT, "stream": True},
                      headers=headers, timeout=30) as r:
        for _ in r.iter_raw():
            break
    x = last_exchange(moonpalace_bin, proxy.data_dir)
    assert failure_step(x) == "client_disconnected"


@pytest.mark.parametrize("stream", [False, True])
def test_client_gone_while_upstream_is_silent_cancels_the_upstream_call(mock_server, proxy_factory, moonpalace_bin, stream):
    """Non-stream: the client waits for an answer that has not come; stream: it has the head and one event and the
    next event has not come. Either way nothing is written to the client when it leaves, so only the connection
    watch can notice: the upstream connection must be closed at once (not after the mock's 20 s hold) and the
    exchange recorded as client_disconnected. The mock's /_mock/events tells when it saw that connection close."""
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    tag = f"cancel-{stream}-{time.monotonic_ns()}"
    events = lambda: [e["event"] for e in mock_events(mock_server, tag)]
    body = json.dumps(CHAT).encode()
    s = socket.create_connection(("127.0.0.1", proxy.port))
    s.sendall(b"POST /_mock/hold?tag=%s&ms=20000%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (tag.encode(), b"&sse=1" if stream else b"", len(body), body))
    assert wait_until(lambda: "held" in events(), timeout=10), "the request never reached the upstream"
    if stream:
        got = b""
        while b"hold" not in got:
            piece = s.recv(65536)
            assert piece, "the proxy closed before relaying the first event"
            got += piece
    started = time.monotonic()
    s.close()
    assert wait_until(lambda: "closed" in events(), timeout=10), f"the upstream call went on after the client left: {events()}"
    assert time.monotonic() - started < 10
    closed = [e for e in mock_events(mock_server, tag) if e["event"] == "closed"][0]
    assert closed["held_ms"] < 15000, closed
    x = last_exchange(moonpalace_bin, proxy.data_dir)
    assert failure_step(x) == "client_disconnected"
    assert x["end"]["status"] == (200 if stream else 0)


def test_client_request_body_cut_is_read_request_body(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(mock_server.removesuffix("/v1") + "/_mock/echo")
    with socket.create_connection(("127.0.0.1", proxy.port)) as s:
        s.sendall(b"POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"a" * 70000)
        time.sleep(0.3)
    x = last_exchange(moonpalace_bin, proxy.data_dir)
    assert failure_step(x) == "read_request_body"
