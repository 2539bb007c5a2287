"""Helpers for the mock tests (no tests here): stdlib HTTP, so failures point at the server, not a client library."""
import json
import urllib.error
import urllib.request


def http(method, url, body=None, headers=None, timeout=30):
    """Returns (status, headers dict with lower-case names, body bytes); never raises on HTTP errors."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", "Authorization": "Bearer sk-test", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def chat(base, body, headers=None):
    status, head, raw = http("POST", base + "/chat/completions", body, headers)
    return status, head, raw


def sse_payloads(raw: bytes):
    """`data:` payloads of an SSE body split on blank lines."""
    return [event[6:] for event in raw.decode().split("\n\n") if event.startswith("data: ")]


USER = [{"role": "user", "content": "月亮上有宫殿吗？ Tell me briefly."}]
MODEL = "kimi-k2-turbo-preview"
