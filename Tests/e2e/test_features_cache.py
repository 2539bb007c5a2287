"""--auto-cache end to end against the mock's /v1/caching: create once, reuse, message boundaries, the model from
the request, single flight under concurrency, a cache gone upstream is forgotten and the call still succeeds,
failures never fail the call, the mapping survives a restart, and unused caches are deleted upstream."""
import json
import os
from concurrent.futures import ThreadPoolExecutor

try:
    import httpx
except ImportError:  # the SDK in this venv ships its HTTP client as httpx2
    import httpx2 as httpx
import openai

from conftest import wait_until
from test_proxy_util import dump_exchanges, proxy_factory  # noqa: F401 (fixtures)

SYSTEM = "You are a careful assistant. " * 200          # ~5.8 KB: above the default --cache-min-bytes (4096)


def chat(model="moonshot-v1-8k", system=SYSTEM, user="What is the moon made of?"):
    return {"model": model, "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]}


def caches(mock):
    return httpx.get(mock + "/caching?limit=1000", headers={"Authorization": "Bearer sk-x"}, timeout=10).json()["data"]


def mapping(data_dir):
    path = os.path.join(data_dir, "context-caches.json")
    return json.load(open(path))["caches"] if os.path.exists(path) else []


def test_cache_is_created_once_reused_and_searchable(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(mock_server.removesuffix("/v1"), "--auto-cache")
    via = openai.OpenAI(base_url=proxy.base_url, api_key="sk-cache-user-0001")
    first = via.chat.completions.create(**chat())
    turn2 = chat()
    turn2["messages"] += [{"role": "assistant", "content": first.choices[0].message.content},
                          {"role": "user", "content": "And how far away is it?"}]
    second = via.chat.completions.create(**turn2)          # the conversation goes on: turn 1's cache covers it
    listed = caches(mock_server)
    assert len(listed) == 1 and listed[0]["model"] == "moonshot-v1"                 # family of the request's model
    assert second.usage.model_dump().get("cached_tokens", 0) > 0
    # the second turn matched the first turn's cache (more than half of its prompt): cached tokens reported
    raw = via.chat.completions.with_raw_response.create(**chat())
    assert raw.http_response.headers["msh-context-cache-id"] == listed[0]["id"]
    assert raw.parse().usage.model_dump().get("cached_tokens", 0) > 0
    x = dump_exchanges(moonpalace_bin, proxy.data_dir)
    assert all("cache_used" in e["end"]["flags"] for e in x.values())
    assert wait_until(lambda: f"Msh-Context-Cache-Id: {listed[0]['id']}" in proxy.output)
    assert [m["cache_id"] for m in mapping(proxy.data_dir)] == [listed[0]["id"]]
    assert "sk-cache-user-0001" not in open(os.path.join(proxy.data_dir, "context-caches.json")).read()
    assert first.choices[0].message.content


def test_boundaries_models_and_small_prompts(mock_server, proxy_factory):
    proxy = proxy_factory(mock_server.removesuffix("/v1"), "--auto-cache")
    via = openai.OpenAI(base_url=proxy.base_url, api_key="sk-x")
    half = "abcdefgh " * 300
    # the same text split differently between two messages is a different prefix (MoonPalace hashed them equal)
    via.chat.completions.create(model="moonshot-v1-8k", messages=[{"role": "system", "content": half + half},
                                                                   {"role": "user", "content": "q"}])
    via.chat.completions.create(model="moonshot-v1-8k", messages=[{"role": "system", "content": half},
                                                                   {"role": "user", "content": half + "q"}])
    via.chat.completions.create(**chat(model="kimi-k2-0905-preview"))
    via.chat.completions.create(**chat(system="short"))                                # below --cache-min-bytes
    assert sorted(c["model"] for c in caches(mock_server)) == ["kimi-k2-0905-preview", "moonshot-v1", "moonshot-v1"]


def test_concurrent_requests_create_one_cache(mock_server, proxy_factory):
    proxy = proxy_factory(mock_server.removesuffix("/v1"), "--auto-cache")
    via = openai.OpenAI(base_url=proxy.base_url, api_key="sk-x", max_retries=0)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: via.chat.completions.create(**chat(system=SYSTEM + "v2")), range(8)))
    assert all(a.choices[0].message.content for a in answers)
    assert len(caches(mock_server)) == 1


def test_cache_gone_upstream_is_forgotten_and_the_call_still_succeeds(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(mock_server.removesuffix("/v1"), "--auto-cache")
    via = openai.OpenAI(base_url=proxy.base_url, api_key="sk-x", max_retries=0)
    via.chat.completions.create(**chat())
    old = caches(mock_server)[0]["id"]
    assert httpx.delete(mock_server + f"/caching/{old}", timeout=10).status_code == 200
    answer = via.chat.completions.create(**chat())                      # the proxy still sends the old id first
    assert answer.choices[0].message.content
    assert wait_until(lambda: f"rejected context cache {old}" in proxy.output)
    assert old not in [m["cache_id"] for m in mapping(proxy.data_dir)]
    via.chat.completions.create(**chat())                              # a fresh cache for the same prefix
    assert len(caches(mock_server)) == 1 and caches(mock_server)[0]["id"] != old


def test_caching_failure_never_fails_the_call(mock_server, proxy_factory):
    # with the mock's echo route as the endpoint, /v1/caching answers with an echo (no cache id): creation fails, the
    # call goes uncached
    proxy = proxy_factory(mock_server.removesuffix("/v1") + "/_mock/echo", "--auto-cache")
    r = httpx.post(proxy.base_url + "/chat/completions", json=chat(), headers={"Authorization": "Bearer sk-x"}, timeout=30)
    assert r.status_code == 200 and r.json()["path"] == "/v1/chat/completions"
    assert "x-msh-context-cache" not in {k.lower() for k in r.json().get("headers", {})}
    # the log block is printed by the proxy, read by the test's pump thread: wait for it
    assert wait_until(lambda: "auto-cache: creating a context cache failed" in proxy.output and "went uncached" in proxy.output)


def test_mapping_survives_restart_and_unused_caches_are_deleted(mock_server, proxy_factory, tmp_path):
    data_dir = str(tmp_path / "d")
    first = proxy_factory(mock_server.removesuffix("/v1"), "--auto-cache", data_dir=data_dir)
    openai.OpenAI(base_url=first.base_url, api_key="sk-x").chat.completions.create(**chat())
    first.process.popen.terminate()
    first.process.popen.wait(timeout=15)
    created = caches(mock_server)[0]["id"]
    again = proxy_factory(mock_server.removesuffix("/v1"), "--auto-cache", "--cache-cleanup", "3", data_dir=data_dir)
    raw = openai.OpenAI(base_url=again.base_url, api_key="sk-x").chat.completions.with_raw_response.create(**chat())
    assert raw.http_response.headers["msh-context-cache-id"] == created and len(caches(mock_server)) == 1
    # unused for --cache-cleanup seconds: deleted upstream (this run knows the key) and forgotten locally
    assert wait_until(lambda: caches(mock_server) == [], timeout=20)
    assert wait_until(lambda: mapping(data_dir) == [], timeout=5)
    assert wait_until(lambda: "auto-cache: forgot 1 context cache" in again.output, timeout=5)
