"""Traffic features of `moonpalace start`: --force-stream, truncation detection, --detect-repeat, against the mock
with the official OpenAI SDK, curl and raw HTTP. The records are read back with `log dump` and `list -p`."""
import json
import subprocess

try:
    import httpx
except ImportError:  # the SDK in this venv ships its HTTP client as httpx2
    import httpx2 as httpx
import openai

from conftest import wait_until
from test_proxy_util import dump_exchanges, normalize_ids, proxy_factory  # noqa: F401 (fixtures)

CHAT = {"model": "moonshot-v1-8k", "messages": [{"role": "user", "content": "Tell me about the moon."}], "seed": 11}
TOOLS = [{"type": "function", "function": {"name": "search", "description": "web search",
                                           "parameters": {"type": "object", "properties": {"q": {"type": "string"}},
                                                          "required": ["q"]}}}]


def sse_events(raw: bytes):
    """The data of every event of a raw SSE body."""
    out = []
    for block in raw.decode().split("\n\n"):
        data = [line[5:].strip() for line in block.splitlines() if line.startswith("data:")]
        if data:
            out.append("\n".join(data))
    return out


def list_ids(moonpalace_bin, data_dir, *predicates):
    args = [moonpalace_bin, "list", "-n", "0", "--json", "--data-dir", data_dir]
    for p in predicates:
        args += ["-p", p]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return sorted(json.loads(line)["id"] for line in out.stdout.splitlines() if line.strip())


def only_exchange(moonpalace_bin, data_dir):
    x = dump_exchanges(moonpalace_bin, data_dir)
    assert len(x) == 1, x
    return list(x.values())[0]


# --force-stream ---------------------------------------------------------------------------------------------------

def test_force_stream_sdk_non_stream_call_gets_one_chat_completion(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(mock_server.removesuffix("/v1"), "--force-stream")
    direct = openai.OpenAI(base_url=mock_server, api_key="sk-direct")
    via = openai.OpenAI(base_url=proxy.base_url, api_key="sk-via-proxy-5678")
    expected = direct.chat.completions.create(**CHAT)
    raw = via.chat.completions.with_raw_response.create(**CHAT)
    assert raw.http_response.headers["content-type"].startswith("application/json")
    body = json.loads(raw.http_response.content)
    assert body["object"] == "chat.completion"
    assert body["usage"]["total_tokens"] == expected.usage.total_tokens > 0
    assert "usage" not in body["choices"][0] and "delta" not in body["choices"][0]
    answer = raw.parse()
    assert answer.choices[0].message.content == expected.choices[0].message.content
    assert answer.choices[0].finish_reason == expected.choices[0].finish_reason
    # the record keeps the client's request and says streaming was forced; upstream it was a stream
    x = only_exchange(moonpalace_bin, proxy.data_dir)
    assert json.loads(x["begin"]["request_body"]) == CHAT
    assert "forced_stream" in x["begin"]["flags"]
    assert {"forced_stream", "stream"} <= set(x["end"]["flags"])
    assert x["end"]["chatcmpl_id"] == answer.id
    assert list_ids(moonpalace_bin, proxy.data_dir, "forced_stream == true") == [x["begin"]["exchange"]]


def test_force_stream_tools_and_n_choices(mock_server, proxy_factory):
    proxy = proxy_factory(mock_server.removesuffix("/v1"), "--force-stream")
    via = openai.OpenAI(base_url=proxy.base_url, api_key="sk-x")
    direct = openai.OpenAI(base_url=mock_server, api_key="sk-x")
    request = {**CHAT, "tools": TOOLS, "n": 2}
    a, d = via.chat.completions.create(**request), direct.chat.completions.create(**request)
    assert [c.index for c in a.choices] == [0, 1]
    for got, want in zip(a.choices, d.choices):
        assert got.finish_reason == want.finish_reason == "tool_calls"
        assert [(t.id, t.function.name, json.loads(t.function.arguments)) for t in got.message.tool_calls] == \
               [(t.id, t.function.name, json.loads(t.function.arguments)) for t in want.message.tool_calls]
    raw = json.loads(via.chat.completions.with_raw_response.create(**request).http_response.content)
    assert all("index" not in call for c in raw["choices"] for call in c["message"]["tool_calls"])
    assert raw["usage"]["completion_tokens"] == d.usage.completion_tokens


def test_force_stream_leaves_streams_empty_bodies_and_other_paths_alone(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(mock_server.removesuffix("/v1"), "--force-stream")
    body = json.dumps({**CHAT, "stream": True})
    def curl(base):
        return subprocess.run(["curl", "-sS", "-N", base + "/chat/completions", "-H", "Content-Type: application/json",
                               "-d", body], capture_output=True, timeout=30, check=True).stdout
    assert normalize_ids(curl(proxy.base_url)) == normalize_ids(curl(mock_server))
    # `{}` stays valid JSON upstream: the mock answers its own validation error, relayed unchanged
    with httpx.Client(timeout=30) as c:
        direct = c.post(mock_server + "/chat/completions", content=b"{}", headers={"Content-Type": "application/json"})
        via = c.post(proxy.base_url + "/chat/completions", content=b"{}", headers={"Content-Type": "application/json"})
        assert via.status_code == direct.status_code == 400
        assert via.json()["error"] == direct.json()["error"]
        assert c.get(proxy.base_url + "/models").json() == c.get(mock_server + "/models").json()
    flags = [x["begin"]["flags"] for _, x in sorted(dump_exchanges(moonpalace_bin, proxy.data_dir).items())]
    assert "forced_stream" not in flags[0]          # the client streamed itself
    assert "forced_stream" in flags[1]              # {} was forced (and stayed valid)


# truncation -------------------------------------------------------------------------------------------------------

def test_truncation_warns_with_a_number_and_is_searchable(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    via = openai.OpenAI(base_url=proxy.base_url, api_key="sk-x")
    cut = via.chat.completions.create(**CHAT, max_tokens=9)
    assert cut.choices[0].finish_reason == "length"
    pieces = list(via.chat.completions.create(**CHAT, max_tokens=7, stream=True))
    assert any(p.choices and p.choices[0].finish_reason == "length" for p in pieces)
    via.chat.completions.create(**CHAT)                       # a healthy one
    def warning_lines():
        return [line for line in proxy.output.splitlines() if "[WARNING]" in line and "max_tokens" in line]
    assert wait_until(lambda: len(warning_lines()) >= 2)
    warnings = warning_lines()
    assert len(warnings) == 2, proxy.output
    assert "greater than 9" in warnings[0] and "max_tokens=256" in warnings[0]
    assert "greater than 7" in warnings[1] and "max_tokens=256" in warnings[1]   # the stream's number, via usage
    x = dump_exchanges(moonpalace_bin, proxy.data_dir)
    truncated = sorted(i for i, e in x.items() if "truncated" in e["end"]["flags"])
    assert len(truncated) == 2
    assert list_ids(moonpalace_bin, proxy.data_dir, "truncated == true") == truncated
    assert len(list_ids(moonpalace_bin, proxy.data_dir, "truncated == false")) == 1


# --detect-repeat --------------------------------------------------------------------------------------------------

def test_repeat_cut_ends_the_stream_well_formed(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(mock_server.removesuffix("/v1"), "--detect-repeat")
    request = {**CHAT, "stream": True, "max_tokens": 5000, "n": 2}
    with httpx.Client(timeout=60) as c:
        r = c.post(proxy.base_url + "/chat/completions", json=request, headers={"X-Mock-Scenario": "repeat"})
    assert r.status_code == 200
    assert r.content.endswith(b"data: [DONE]\n\n") and r.content.count(b"[DONE]") == 1
    chunks = [json.loads(e) for e in sse_events(r.content) if e != "[DONE]"]   # every event is valid JSON
    text = {0: "", 1: ""}
    reasons = {}
    for ch in chunks:
        for c in ch["choices"]:
            text[c["index"]] += c.get("delta", {}).get("content") or ""
            if c.get("finish_reason"):
                reasons[c["index"]] = c["finish_reason"]
    assert reasons == {0: "repeat", 1: "repeat"}
    # the loop starts after 8 tokens: the cut comes soon after --repeat-min-length (100), far before max_tokens
    assert max(len(t) for t in text.values()) < 600
    x = only_exchange(moonpalace_bin, proxy.data_dir)
    assert "repeat_cut" in x["end"]["flags"] and x["end"]["finish_reasons"] == ["repeat", "repeat"]
    assert any("content repeating" in w for w in x["end"]["warnings"])
    assert wait_until(lambda: "it appears that there is an issue with content repeating" in proxy.output)
    assert list_ids(moonpalace_bin, proxy.data_dir, "repeat_cut == true") == [x["begin"]["exchange"]]
    # the SDK reads the cut stream to its end
    via = openai.OpenAI(base_url=proxy.base_url, api_key="sk-x")
    last = list(via.chat.completions.create(**{**CHAT, "max_tokens": 5000}, stream=True,
                                            extra_headers={"X-Mock-Scenario": "repeat"}))[-1]
    assert last.choices[0].finish_reason == "repeat"


def test_repeat_cut_with_force_stream_answers_json(mock_server, proxy_factory):
    proxy = proxy_factory(mock_server.removesuffix("/v1"), "--detect-repeat", "--force-stream")
    via = openai.OpenAI(base_url=proxy.base_url, api_key="sk-x")
    answer = via.chat.completions.create(**CHAT, max_tokens=5000, extra_headers={"X-Mock-Scenario": "repeat"})
    assert answer.object == "chat.completion" and answer.choices[0].finish_reason == "repeat"
    assert 100 < len(answer.choices[0].message.content) < 600


def test_repeat_detection_is_off_by_default_and_long_healthy_streams_pass(mock_factory, proxy_factory, moonpalace_bin):
    mock = mock_factory("--huge-bytes", "700000")
    plain = proxy_factory(mock.removesuffix("/v1"))
    with httpx.Client(timeout=120) as c:
        r = c.post(plain.base_url + "/chat/completions", json={**CHAT, "stream": True, "max_tokens": 300},
                   headers={"X-Mock-Scenario": "repeat"})
        assert b'"finish_reason":"length"' in r.content and b'"repeat"' not in r.content
        # --detect-repeat on a long healthy answer (≥ 200,000 characters of the mock's prose) never cuts it
        watched = proxy_factory(mock.removesuffix("/v1"), "--detect-repeat")
        r = c.post(watched.base_url + "/chat/completions", json={**CHAT, "stream": True},
                   headers={"X-Mock-Scenario": "huge"})
    text = "".join((json.loads(e)["choices"][0]["delta"].get("content") or "")
                   for e in sse_events(r.content) if e != "[DONE]" and json.loads(e)["choices"])
    assert len(text) >= 200_000
    assert b'"repeat"' not in r.content and r.content.endswith(b"data: [DONE]\n\n")
    assert "repeat_cut" not in only_exchange(moonpalace_bin, watched.data_dir)["end"]["flags"]
