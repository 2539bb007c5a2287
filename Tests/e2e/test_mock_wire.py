"""curl against the mock: SSE timing (not buffered), determinism, context caching over plain HTTP."""
import json
import re
import subprocess
import time

from test_mock_support import MODEL, USER, chat, http, sse_payloads


def curl_stream_lines(base, headers, body):
    """Runs curl -N and returns [(seconds since start, line)] for each `data:` line as it arrives."""
    args = ["curl", "-sN", base + "/chat/completions", "-H", "Content-Type: application/json", "-d", json.dumps(body)]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    started = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, bufsize=0)
    stamped = []
    for line in iter(process.stdout.readline, b""):
        if line.startswith(b"data: "):
            stamped.append((time.monotonic() - started, line.decode()))
    process.wait(timeout=30)
    return stamped


def test_sse_arrives_event_by_event_under_a_chunk_delay(mock_server):
    stamped = curl_stream_lines(mock_server, {"X-Mock-Chunk-Delay-Ms": "100", "X-Mock-Chunks": "8"},
                                {"model": MODEL, "messages": USER, "stream": True})
    times = [t for t, _ in stamped]
    assert len(stamped) == 1 + 8 + 1 + 1
    assert stamped[-1][1].strip() == "data: [DONE]"
    # Unbuffered: each event lands ~100 ms after the previous one, not all together at the end.
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) > 0.05, gaps
    assert times[-1] - times[0] > 0.8


def test_first_token_delay(mock_server):
    stamped = curl_stream_lines(mock_server, {"X-Mock-First-Token-Delay-Ms": "400", "X-Mock-Chunks": "3"},
                                {"model": MODEL, "messages": USER, "stream": True})
    assert stamped[0][0] >= 0.38 and stamped[-1][0] - stamped[0][0] < 0.3


def normalized(raw: bytes) -> bytes:
    raw = re.sub(rb'"id":"chatcmpl-[a-z0-9]+"', b'"id":"X"', raw)
    return re.sub(rb'"created":\d+', b'"created":0', raw)


def test_same_seed_gives_identical_bytes_across_servers(mock_factory):
    first, second = mock_factory("--seed", "77"), mock_factory("--seed", "77")
    other = mock_factory("--seed", "78")
    body = {"model": MODEL, "messages": USER, "stream": True, "n": 2}
    a = normalized(chat(first, body)[2])
    assert a == normalized(chat(second, body)[2])
    assert a != normalized(chat(other, body)[2])
    # The request's own seed wins over --seed.
    seeded = dict(body, seed=5)
    assert normalized(chat(first, seeded)[2]) == normalized(chat(other, seeded)[2])


def test_context_cache_lifecycle_over_http(mock_server):
    system = {"role": "system", "content": "你是 Kimi。" + "long context " * 50}
    status, _, raw = http("POST", mock_server + "/caching",
                          {"model": "moonshot-v1", "messages": [system], "ttl": 60, "tags": ["docs-v1"]})
    cache = json.loads(raw)
    assert status == 200 and cache["status"] == "pending" and cache["tokens"] > 0
    assert json.loads(http("GET", mock_server + "/caching/" + cache["id"])[2])["status"] == "ready"

    status, head, raw = chat(mock_server, {"model": "moonshot-v1-8k", "messages": [
        {"role": "cache", "content": "tag=docs-v1;reset_ttl=120"}, {"role": "user", "content": "hi"}]})
    usage = json.loads(raw)["usage"]
    assert status == 200 and head["msh-context-cache-id"] == cache["id"]
    assert usage["cached_tokens"] == cache["tokens"] == int(head["msh-context-cache-token-saved"])

    status, head, raw = chat(mock_server, {"model": "moonshot-v1-8k", "messages": [system, *USER]},
                             {"X-Msh-Context-Cache": cache["id"], "X-Msh-Context-Cache-Reset-TTL": "60"})
    assert head["msh-context-cache-id"] == cache["id"]
    assert json.loads(raw)["usage"]["prompt_tokens_details"]["cached_tokens"] == cache["tokens"]

    status, _, raw = http("PUT", mock_server + "/caching/" + cache["id"], {"metadata": {"k": "v"}, "ttl": 30})
    assert status == 200 and json.loads(raw)["metadata"] == {"k": "v"}
    listed = json.loads(http("GET", mock_server + "/caching?metadata[k]=v")[2])["data"]
    assert [c["id"] for c in listed] == [cache["id"]]

    assert json.loads(http("DELETE", mock_server + "/caching/" + cache["id"])[2])["deleted"] is True
    status, _, raw = chat(mock_server, {"model": "moonshot-v1-8k", "messages": [
        {"role": "cache", "content": "cache_id=" + cache["id"]}, {"role": "user", "content": "hi"}]})
    assert status == 404 and json.loads(raw)["error"]["type"] == "resource_not_found_error"


def test_expired_cache_is_refused_and_reset_ttl_revives_it(mock_server):
    system = {"role": "system", "content": "short-lived"}
    cache = json.loads(http("POST", mock_server + "/caching", {"model": "moonshot-v1", "messages": [system], "ttl": 1})[2])
    time.sleep(2.1)
    assert json.loads(http("GET", mock_server + "/caching/" + cache["id"])[2])["status"] == "inactive"
    status, _, raw = chat(mock_server, {"model": "moonshot-v1-8k", "messages": [
        {"role": "cache", "content": "cache_id=" + cache["id"]}, {"role": "user", "content": "hi"}]})
    assert status == 400 and "inactive" in json.loads(raw)["error"]["message"]
    status, head, _ = chat(mock_server, {"model": "moonshot-v1-8k", "messages": [system, *USER]},
                           {"X-Msh-Context-Cache": cache["id"], "X-Msh-Context-Cache-Reset-TTL": "60"})
    assert status == 200 and head["msh-context-cache-id"] == cache["id"]


def test_help_documents_scenarios_and_headers(moonpalace_bin):
    out = subprocess.run([moonpalace_bin, "mock", "--help"], capture_output=True, text=True, timeout=30).stdout
    for word in ["split-sse", "no-final-newline", "X-Mock-Scenario", "X-Mock-Chunk-Delay-Ms", "--require-key", "Server-Timing"]:
        assert word in out
