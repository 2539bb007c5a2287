"""One test per mock scenario, each observing the scenario's effect from the client side."""
import json
import re
import socket
import subprocess
import time
from urllib.parse import urlparse

import openai
import pytest

from test_mock_support import MODEL, USER, chat, http, sse_payloads


def sdk(base):
    return openai.OpenAI(base_url=base, api_key="sk-test", max_retries=0)


def scenario(name):
    return {"X-Mock-Scenario": name}


def test_length(mock_server):
    completion = sdk(mock_server).chat.completions.create(
        model=MODEL, messages=USER, extra_headers=scenario("length"))
    assert completion.choices[0].finish_reason == "length"


def test_repeat_loops_one_phrase_until_max_tokens(mock_server):
    completion = sdk(mock_server).chat.completions.create(
        model=MODEL, messages=USER, max_tokens=200, extra_headers=scenario("repeat"))
    text = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 200
    tail = text[-120:]
    assert re.fullmatch(r"(.{2,40}?)\1+.*", tail, re.S), tail  # the tail is one phrase over and over


def test_drop_cuts_the_stream_mid_way(mock_server):
    received = 0
    with pytest.raises(openai.APIConnectionError):
        for chunk in sdk(mock_server).chat.completions.create(
                model=MODEL, messages=USER, stream=True, extra_headers={"X-Mock-Scenario": "drop", "X-Mock-Chunks": "40"}):
            received += 1
    assert 2 <= received < 40
    # curl sees the chunked body end without its terminating chunk: exit 18 (partial transfer), no [DONE].
    run = subprocess.run(["curl", "-sN", mock_server + "/chat/completions", "-H", "X-Mock-Scenario: drop",
                          "-d", json.dumps({"model": MODEL, "messages": USER, "stream": True})], capture_output=True)
    assert run.returncode == 18 and b"[DONE]" not in run.stdout and run.stdout.startswith(b"data: ")


def test_drop_cuts_a_json_body(mock_server):
    with pytest.raises(openai.APIConnectionError):
        sdk(mock_server).chat.completions.create(model=MODEL, messages=USER, extra_headers=scenario("drop"))
    run = subprocess.run(["curl", "-s", mock_server + "/chat/completions", "-H", "X-Mock-Scenario: drop",
                          "-d", json.dumps({"model": MODEL, "messages": USER})], capture_output=True)
    assert run.returncode == 18 and run.stdout.startswith(b'{"id":"chatcmpl-')


@pytest.mark.parametrize("name,status", [("error-500", 500), ("error-502", 502), ("error-503", 503)])
def test_server_errors(mock_server, name, status):
    with pytest.raises(openai.InternalServerError) as error:
        sdk(mock_server).chat.completions.create(model=MODEL, messages=USER, extra_headers=scenario(name))
    assert error.value.status_code == status
    if status != 500:
        assert "nginx" in error.value.response.text
    if status == 503:
        assert error.value.response.headers["retry-after"] == "2"


def test_rate_limit(mock_server):
    with pytest.raises(openai.RateLimitError) as error:
        sdk(mock_server).chat.completions.create(model=MODEL, messages=USER, extra_headers=scenario("rate-limit"))
    assert error.value.status_code == 429
    assert error.value.response.headers["retry-after"] == "1"
    assert error.value.body["type"] == "rate_limit_reached_error"


def test_content_filter(mock_server):
    with pytest.raises(openai.BadRequestError) as error:
        sdk(mock_server).chat.completions.create(model=MODEL, messages=USER, extra_headers=scenario("content-filter"))
    assert error.value.body["type"] == "content_filter"
    assert "high risk" in error.value.body["message"]


def test_quota(mock_server):
    with pytest.raises(openai.RateLimitError) as error:
        sdk(mock_server).chat.completions.create(model=MODEL, messages=USER, extra_headers=scenario("quota"))
    assert error.value.body["type"] == "exceeded_current_quota_error"


def test_unauthorized(mock_server):
    with pytest.raises(openai.AuthenticationError) as error:
        sdk(mock_server).chat.completions.create(model=MODEL, messages=USER, extra_headers=scenario("unauthorized"))
    assert error.value.body["type"] == "invalid_authentication_error"


def test_slow_head_delays_the_response_head(mock_factory):
    base = mock_factory("--head-delay-ms", "700")
    started = time.monotonic()
    status, _, _ = http("GET", base + "/models", headers=scenario("slow-head"))
    assert status == 200 and time.monotonic() - started >= 0.65
    started = time.monotonic()
    http("GET", base + "/models")
    assert time.monotonic() - started < 0.5


def test_huge_is_tens_of_megabytes_of_valid_json(mock_server):
    status, _, raw = chat(mock_server, {"model": MODEL, "messages": USER}, scenario("huge"))
    assert status == 200 and len(raw) > 20_000_000
    body = json.loads(raw)
    assert len(body["choices"][0]["message"]["content"].encode()) >= 24 << 20
    assert body["usage"]["completion_tokens"] > 1_000_000


def test_huge_stream(mock_server):
    status, _, raw = chat(mock_server, {"model": MODEL, "messages": USER, "stream": True}, scenario("huge"))
    events = sse_payloads(raw)
    assert status == 200 and len(raw) > 20_000_000 and events[-1] == "[DONE]"


def read_chunked_writes(base, headers):
    """Sends a streaming chat request on a raw socket; returns the HTTP/1.1 chunk payloads (one per server write)."""
    url = urlparse(base)
    body = json.dumps({"model": MODEL, "messages": USER, "stream": True}).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n").encode() + body
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    payloads = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        payloads.append(rest[:size])
        rest = rest[size + 2:]
    return payloads


def test_split_sse_cuts_events_across_writes_yet_parses(mock_server):
    writes = read_chunked_writes(mock_server, {"X-Mock-Scenario": "split-sse", "X-Mock-Chunks": "10"})
    assert any(not w.endswith(b"\n\n") for w in writes), "some write must end inside an event"
    joined = b"".join(writes)
    events = sse_payloads(joined)
    assert events[-1] == "[DONE]" and all(json.loads(e)["object"] == "chat.completion.chunk" for e in events[:-1])
    text = "".join(c.choices[0].delta.content or "" for c in sdk(mock_server).chat.completions.create(
        model=MODEL, messages=USER, stream=True, extra_headers=scenario("split-sse")) if c.choices)
    assert text


def test_normal_stream_writes_one_event_per_write(mock_server):
    writes = read_chunked_writes(mock_server, {"X-Mock-Chunks": "10"})
    assert all(w.startswith(b"data: ") and w.endswith(b"\n\n") and w.count(b"\n\n") == 1 for w in writes)
    assert len(writes) == 1 + 10 + 1 + 1  # role, content, finish, [DONE]


def test_no_final_newline(mock_server):
    status, _, raw = chat(mock_server, {"model": MODEL, "messages": USER, "stream": True}, scenario("no-final-newline"))
    assert raw.endswith(b"data: [DONE]\n") and not raw.endswith(b"\n\n")


def test_scenario_flag_applies_to_every_request(mock_factory):
    base = mock_factory("--scenario", "rate-limit")
    for _ in range(2):
        status, head, _ = http("GET", base + "/models")
        assert status == 429 and head["retry-after"] == "1"


def test_several_scenarios_in_one_header(mock_server):
    status, _, raw = chat(mock_server, {"model": MODEL, "messages": USER, "stream": True},
                          {"X-Mock-Scenario": "length, no-final-newline"})
    events = sse_payloads(raw + b"\n")
    finish = [json.loads(e)["choices"][0]["finish_reason"] for e in events[:-1] if json.loads(e)["choices"]]
    assert finish[-1] == "length" and raw.endswith(b"data: [DONE]\n")
