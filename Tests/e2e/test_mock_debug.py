"""The mock's debug facilities (what the proxy tests need and the real API cannot show): /_mock/echo, /_mock/bytes,
/_mock/hold + /_mock/events, and the opt-in headers X-Mock-Gzip, X-Mock-Timestamps, X-Mock-Head-Delay-Ms. Without
them the API routes answer as before (checked here too)."""
import gzip
import hashlib
import json
import socket
import subprocess
import time
import zlib

import openai
import pytest

from conftest import wait_until
from test_mock_support import MODEL, USER, http, sse_payloads

try:
    import httpx
except ImportError:  # the SDK in this venv ships its HTTP client as httpx2
    import httpx2 as httpx


def root(mock_server):
    return mock_server.removesuffix("/v1")


def port(mock_server):
    return int(root(mock_server).rsplit(":", 1)[1])


def events(mock_server, tag):
    status, _, raw = http("GET", f"{root(mock_server)}/_mock/events?tag={tag}")
    assert status == 200
    return json.loads(raw)["events"]


def stamped_events(raw: bytes):
    """[(stamp seconds, data payload)] of a stream written with X-Mock-Timestamps."""
    out = []
    for event in raw.decode().split("\n\n"):
        if not event:
            continue
        stamp, data = event.split("\n", 1)
        assert stamp.startswith(": t=") and data.startswith("data: "), event
        out.append((float(stamp[4:]), data[6:]))
    return out


# --- /_mock/echo ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_echo_reports_the_request_as_received(mock_server, method):
    body = "月亮 payload".encode() if method in ("POST", "PUT", "PATCH") else None
    status, head, raw = http(method, f"{root(mock_server)}/_mock/echo/v1/files?purpose=x&q=a%20b", body,
                             {"X-Custom": "kept", "Authorization": "Bearer sk-echo"})
    assert status == 200 and head["content-type"].startswith("application/json")
    echo = json.loads(raw)
    assert echo["method"] == method
    assert echo["target"] == "/_mock/echo/v1/files?purpose=x&q=a%20b"
    assert echo["path"] == "/v1/files?purpose=x&q=a%20b"
    assert echo["host"] == f"127.0.0.1:{port(mock_server)}" == echo["headers"]["host"]
    assert echo["headers"]["x-custom"] == "kept" and echo["headers"]["authorization"] == "Bearer sk-echo"
    assert echo["body_length"] == len(body or b"")
    assert echo["body_sha256"] == hashlib.sha256(body or b"").hexdigest()


def test_echo_hashes_a_chunked_body_of_many_megabytes(mock_server):
    blocks = [bytes([i]) * (1 << 20) + b"tail" for i in range(24)]
    with httpx.Client(timeout=60) as c:
        r = c.post(f"{root(mock_server)}/_mock/echo", content=iter(blocks))
    echo = r.json()
    assert echo["headers"]["transfer-encoding"] == "chunked" and echo["path"] == "/"
    assert echo["body_length"] == sum(map(len, blocks))
    assert echo["body_sha256"] == hashlib.sha256(b"".join(blocks)).hexdigest()


def test_echo_head_has_the_length_but_no_body_and_repeated_headers_are_joined(mock_server):
    with httpx.Client(timeout=10) as c:
        head = c.head(f"{root(mock_server)}/_mock/echo/x")
        get = c.get(f"{root(mock_server)}/_mock/echo/x", headers=[("X-Twice", "1"), ("X-Twice", "2")])
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
    assert get.json()["headers"]["x-twice"] == "1, 2"


# --- /_mock/bytes --------------------------------------------------------------------------------------------

def test_bytes_streams_the_pattern_with_its_length(mock_server):
    for n in [0, 1, 1000, (256 << 10) + 3, 3 << 20]:
        status, head, raw = http("GET", f"{root(mock_server)}/_mock/bytes?n={n}")
        assert status == 200 and head["content-length"] == str(n) and head["content-type"] == "application/octet-stream"
        assert raw == (bytes(range(256)) * (n // 256 + 1))[:n]
    for bad in ["", "?n=", "?n=-1", "?n=x", "?n=99999999999999999"]:
        status, _, raw = http("GET", f"{root(mock_server)}/_mock/bytes{bad}")
        assert status == 400 and "n=<number of bytes" in json.loads(raw)["error"]["message"]


# --- /_mock/hold and /_mock/events ---------------------------------------------------------------------------

def test_hold_answers_after_its_time_and_logs_released(mock_server):
    started = time.monotonic()
    status, _, raw = http("POST", f"{root(mock_server)}/_mock/hold?tag=r1&ms=400", {"x": 1})
    assert status == 200 and time.monotonic() - started >= 0.38
    assert json.loads(raw)["hold"] == "r1" and json.loads(raw)["held_ms"] >= 390
    log = events(mock_server, "r1")
    assert [e["event"] for e in log] == ["held", "released"] and log[1]["held_ms"] >= 390
    assert log[0]["seq"] < log[1]["seq"] and log[0]["at"] <= log[1]["at"]
    assert events(mock_server, "nobody") == []


@pytest.mark.parametrize("sse", [False, True])
def test_hold_logs_the_moment_the_caller_closes(mock_server, sse):
    tag = f"c-{sse}"
    s = socket.create_connection(("127.0.0.1", port(mock_server)))
    s.sendall(f"GET /_mock/hold?tag={tag}{'&sse=1' if sse else ''} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert wait_until(lambda: [e["event"] for e in events(mock_server, tag)] == ["held"], timeout=10)
    if sse:
        got = b""
        while b'data: {"hold":"c-True"}\n\n' not in got:
            piece = s.recv(65536)
            assert piece, "the mock closed before its event"
            got += piece
        assert b"text/event-stream" in got
    time.sleep(0.3)
    closed_at = time.time()
    s.close()
    assert wait_until(lambda: len(events(mock_server, tag)) == 2, timeout=10)
    closed = events(mock_server, tag)[1]
    assert closed["event"] == "closed" and closed["held_ms"] >= 250 and closed["how"]
    assert closed["at"] - closed_at < 5


def test_hold_rejects_a_bad_time(mock_server):
    status, _, raw = http("GET", f"{root(mock_server)}/_mock/hold?ms=forever")
    assert status == 400 and "ms must be an integer" in json.loads(raw)["error"]["message"]


# --- X-Mock-Gzip ---------------------------------------------------------------------------------------------

def test_gzip_only_when_asked_and_accepted(mock_server):
    url = mock_server + "/models"
    _, plain_head, plain = http("GET", url, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain_head and "vary" not in plain_head          # not opted in: as before
    status, head, raw = http("GET", url, headers={"Accept-Encoding": "gzip, br", "X-Mock-Gzip": "1"})
    assert status == 200 and head["content-encoding"] == "gzip" and head["vary"] == "Accept-Encoding"
    assert gzip.decompress(raw) == plain
    for refused in ["identity", "gzip;q=0, identity", "br", "*;q=0", None]:
        headers = {"X-Mock-Gzip": "1", **({"Accept-Encoding": refused} if refused else {})}
        _, head, raw = http("GET", url, headers=headers)
        assert "content-encoding" not in head and raw == plain, refused
    _, head, raw = http("GET", url, headers={"Accept-Encoding": "*", "X-Mock-Gzip": "1"})
    assert head["content-encoding"] == "gzip" and gzip.decompress(raw) == plain
    status, _, raw = http("GET", url, headers={"X-Mock-Gzip": "maybe"})
    assert status == 400 and "X-Mock-Gzip must be 1 or 0" in json.loads(raw)["error"]["message"]


def test_gzip_stream_events_decode_as_they_arrive(mock_server):
    body = json.dumps({"model": MODEL, "messages": USER, "stream": True, "seed": 3}).encode()
    s = socket.create_connection(("127.0.0.1", port(mock_server)))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
              b"Accept-Encoding: gzip\r\nX-Mock-Gzip: 1\r\nX-Mock-Chunks: 5\r\nX-Mock-Chunk-Delay-Ms: 300\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    raw = b""
    while b"\r\n\r\n" not in raw:
        raw += s.recv(65536)
    head, rest = raw.split(b"\r\n\r\n", 1)
    assert b"content-encoding: gzip" in head.lower() and b"transfer-encoding: chunked" in head.lower()
    # Before the stream ends, what arrived already decodes to a whole event (each write is sync-flushed).
    wire, decoded = rest, b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        chunks, _ = dechunk(wire)
        decoded = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(b"".join(chunks))
        if b"\n\n" in decoded:
            break
        wire += s.recv(65536)
    assert decoded.startswith(b"data: {") and decoded.endswith(b"\n\n"), decoded
    assert b"\r\n0\r\n\r\n" not in wire          # the stream is still going (5 more events, 300 ms apart)
    s.close()
    # The whole stream, decoded, is the stream the mock sends without gzip.
    _, _, zipped = http("POST", mock_server + "/chat/completions", json.loads(body),
                        {"Accept-Encoding": "gzip", "X-Mock-Gzip": "1", "X-Mock-Chunks": "5"})
    _, _, plain = http("POST", mock_server + "/chat/completions", json.loads(body), {"X-Mock-Chunks": "5"})
    assert [json.loads(p)["choices"] for p in sse_payloads(gzip.decompress(zipped))[:-1]] == \
           [json.loads(p)["choices"] for p in sse_payloads(plain)[:-1]]


def dechunk(wire):
    """The complete HTTP/1.1 chunks at the start of `wire` (payloads) and what is left."""
    chunks = []
    while b"\r\n" in wire:
        size_line, rest = wire.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        if size == 0 or len(rest) < size + 2:
            break
        chunks.append(rest[:size])
        wire = rest[size + 2:]
    return chunks, wire


# --- X-Mock-Timestamps and deadline pacing -------------------------------------------------------------------

def test_timestamps_stamp_every_event_and_clients_still_parse(mock_server):
    body = {"model": MODEL, "messages": USER, "stream": True, "seed": 5}
    _, _, plain = http("POST", mock_server + "/chat/completions", body, {"X-Mock-Chunks": "6"})
    before = time.time()
    _, _, raw = http("POST", mock_server + "/chat/completions", body, {"X-Mock-Chunks": "6", "X-Mock-Timestamps": "1"})
    events_ = stamped_events(raw)
    assert len(events_) == 1 + 6 + 1 + 1 and events_[-1][1] == "[DONE]"
    stamps = [t for t, _ in events_]
    assert before - 1 < stamps[0] and stamps == sorted(stamps) and stamps[-1] < time.time() + 1
    # Every stamp has 6 decimals; without the stamps the events are the same as without the header.
    assert all(len(line.split(".")[1]) == 6 for line in raw.decode().split("\n") if line.startswith(": t="))
    assert [json.loads(p)["choices"] for _, p in events_[:-1]] == [json.loads(p)["choices"] for p in sse_payloads(plain)[:-1]]
    # The OpenAI SDK skips the comment lines.
    client = openai.OpenAI(base_url=mock_server, api_key="sk-test", default_headers={"X-Mock-Timestamps": "1"})
    stream = client.chat.completions.create(model=MODEL, messages=USER, stream=True, seed=5,
                                            extra_headers={"X-Mock-Chunks": "6"})
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "".join(json.loads(p)["choices"][0]["delta"].get("content") or "" for p in sse_payloads(plain)[:-1])


def test_pacing_is_deadline_based(mock_server):
    # Event k is due at start + first-token delay + k x chunk delay: a late wake-up is not carried over to the events
    # after it. (PalaceMockTests' pacingAbsorbsWriteTime shows the difference from sleeping after each write.) A
    # loaded 2-core machine can stall the whole mock for a few hundred ms (seen: 445 ms at load 15), and a stall near
    # the end leaves the last events late whatever the pacing: up to three tries, one clean try passes.
    first, delay, n = 100, 10, 60
    failures = []
    for _ in range(3):
        before = time.time()
        _, _, raw = http("POST", mock_server + "/chat/completions", {"model": MODEL, "messages": USER, "stream": True},
                         {"X-Mock-Chunks": str(n), "X-Mock-Chunk-Delay-Ms": str(delay),
                          "X-Mock-First-Token-Delay-Ms": str(first), "X-Mock-Timestamps": "1"})
        stamps = [t for t, _ in stamped_events(raw)]
        assert len(stamps) == n + 3
        assert stamps[0] - before >= first / 1000 - 0.002             # the first event waits the first-token delay
        # stamp_k - k x delay = the schedule's origin + event k's lateness; the earliest is (nearly) on time.
        offsets = [t - k * delay / 1000 for k, t in enumerate(stamps)]
        lateness = [o - min(offsets) for o in offsets]
        if lateness[-1] < 0.25 and sorted(lateness)[len(lateness) // 2] < 0.1:
            return
        failures.append(f"last event {lateness[-1] * 1000:.1f} ms late, median {sorted(lateness)[len(lateness) // 2] * 1000:.1f} ms")
    pytest.fail("paced events drifted on every try: " + "; ".join(failures))


# --- X-Mock-Completion-Id ------------------------------------------------------------------------------------

def test_completion_id_header_replaces_the_generated_id(mock_server):
    hostile = '../../escaped "quoted" \\ 月'
    status, _, raw = http("POST", mock_server + "/chat/completions", {"model": MODEL, "messages": USER},
                          {"X-Mock-Completion-Id": hostile.encode().decode("latin-1")})
    assert status == 200 and json.loads(raw)["id"] == hostile
    _, _, raw = http("POST", mock_server + "/chat/completions", {"model": MODEL, "messages": USER, "stream": True},
                     {"X-Mock-Completion-Id": "../../escaped"})
    assert {json.loads(p)["id"] for p in sse_payloads(raw)[:-1]} == {"../../escaped"}
    _, _, raw = http("POST", mock_server + "/chat/completions", {"model": MODEL, "messages": USER})
    assert json.loads(raw)["id"].startswith("chatcmpl-")


# --- X-Mock-Head-Delay-Ms ------------------------------------------------------------------------------------

def test_head_delay_header_sets_slow_head_per_request(mock_server):
    started = time.monotonic()
    status, _, _ = http("GET", mock_server + "/models", headers={"X-Mock-Scenario": "slow-head", "X-Mock-Head-Delay-Ms": "300"})
    assert status == 200 and 0.28 <= time.monotonic() - started < 1.4          # not the 1500 ms default
    status, _, raw = http("GET", mock_server + "/models", headers={"X-Mock-Head-Delay-Ms": "-5"})
    assert status == 400 and "X-Mock-Head-Delay-Ms must be an integer" in json.loads(raw)["error"]["message"]
    status, _, _ = http("GET", mock_server + "/models", headers={"X-Mock-Not-A-Setting": "whatever"})
    assert status == 200                                                       # unknown X-Mock-* ignored


def test_help_documents_the_debug_routes_and_headers(moonpalace_bin):
    out = subprocess.run([moonpalace_bin, "mock", "--help"], capture_output=True, text=True, timeout=30).stdout
    for word in ["/_mock/echo", "/_mock/bytes", "/_mock/hold", "/_mock/events", "X-Mock-Gzip", "X-Mock-Timestamps",
                 "X-Mock-Head-Delay-Ms", "X-Mock-Completion-Id"]:
        assert word in out, word
