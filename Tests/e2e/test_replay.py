"""End-to-end tests of `moonpalace replay` and `moonpalace explain` (issue 6): replays are recorded and linked to
the original through a running proxy or by themselves, edits apply, the diff shows what changed; explain sends the
redacted exchange to a Kimi-compatible endpoint (the mock) and prints the answer."""
import json
import os
import signal
import subprocess

from test_proxy_util import dump_exchanges, proxy_factory  # noqa: F401  (fixture)


def run(binary, *args, check=True, env=None, timeout=120):
    out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, **(env or {})})
    if check:
        assert out.returncode == 0, f"{args}: rc={out.returncode} {out.stderr}"
    return out


def inspect(binary, data, xid):
    return json.loads(run(binary, "inspect", "--id", str(xid), "--json", "--data-dir", data).stdout)


def record_one(base_url, **extra):
    from openai import OpenAI
    client = OpenAI(base_url=base_url, api_key="sk-replaytest0123456789")
    return client.chat.completions.create(model="moonshot-v1-8k", messages=[
        {"role": "user", "content": "Tell me about the moon palace."}], temperature=0.7, **extra)


def stop(proxy):
    proxy.process.popen.send_signal(signal.SIGTERM)
    proxy.process.popen.wait(timeout=20)


def test_replay_through_the_running_proxy(moonpalace_bin, proxy_factory, mock_server):
    proxy = proxy_factory(mock_server)
    record_one(proxy.base_url, max_tokens=400)
    out = run(moonpalace_bin, "replay", "--id", "1", "--set", "temperature=0", "--set", "max_tokens=4",
              "--data-dir", proxy.data_dir, env={"MOONSHOT_API_KEY": "sk-replaytest0123456789"}).stdout
    assert "replayed exchange 1 as exchange 2 via the running proxy" in out
    assert "status         = 200" in out and "finish_reason  stop → length" in out
    assert "content        - " in out and "               + " in out
    replay = inspect(moonpalace_bin, proxy.data_dir, 2)
    assert replay["metadata"]["replay_of"] == "1"
    assert replay["request"]["body"]["temperature"] == 0 and replay["request"]["body"]["max_tokens"] == 4
    assert replay["request"]["body"]["messages"] == inspect(moonpalace_bin, proxy.data_dir, 1)["request"]["body"]["messages"]
    begin = dump_exchanges(moonpalace_bin, proxy.data_dir)[2]["begin"]
    names = [h["name"].lower() for h in begin["request_headers"]]
    assert not [n for n in names if n.startswith("x-moonpalace")]            # control headers never recorded
    auth = [h["value"] for h in begin["request_headers"] if h["name"].lower() == "authorization"]
    assert auth and auth[0].endswith("6789") and "replaytest" not in auth[0]
    stream = run(moonpalace_bin, "replay", "--id", "1", "--set", "stream=true", "--data-dir", proxy.data_dir).stdout
    assert "as exchange 3" in stream
    assert inspect(moonpalace_bin, proxy.data_dir, 3)["metadata"]["response_content_type"].startswith("text/event-stream")


def test_replay_records_by_itself_without_a_proxy(moonpalace_bin, proxy_factory, mock_server):
    proxy = proxy_factory(mock_server)
    record_one(proxy.base_url)
    stop(proxy)
    assert not os.path.exists(os.path.join(proxy.data_dir, "proxy.json"))
    out = run(moonpalace_bin, "replay", "--id", "1", "--set", "messages.0.content=Say hi", "--data-dir", proxy.data_dir)
    assert "as exchange 2 via a temporary recording proxy to " + mock_server[:-3] in out.stdout
    assert "content        - " in out.stdout                                # a different question, a different answer
    replay = inspect(moonpalace_bin, proxy.data_dir, 2)
    assert replay["metadata"]["replay_of"] == "1" and replay["request"]["body"]["messages"][0]["content"] == "Say hi"
    # The same with the built-in mock, and with a stale proxy.json (its pid is gone) in the data directory.
    with open(os.path.join(proxy.data_dir, "proxy.json"), "w") as f:
        f.write('{"pid":999999,"host":"127.0.0.1","port":9,"endpoint":"x","token":"t"}\n')
    out = run(moonpalace_bin, "replay", "--id", "1", "--endpoint", "mock", "--data-dir", proxy.data_dir).stdout
    assert "as exchange 3 via a temporary recording proxy" in out
    # The log is released again: a later command can write.
    run(moonpalace_bin, "export", "--id", "3", "--good", "--data-dir", proxy.data_dir)


def test_replay_bad_input(moonpalace_bin, proxy_factory, mock_server):
    proxy = proxy_factory(mock_server)
    record_one(proxy.base_url)
    bad = run(moonpalace_bin, "replay", "--id", "1", "--set", "temperature", "--data-dir", proxy.data_dir, check=False)
    assert bad.returncode != 0 and "JSONPATH=VALUE" in bad.stderr
    bad = run(moonpalace_bin, "replay", "--id", "1", "--set", "messages.7.content=x", "--data-dir", proxy.data_dir,
              check=False)
    assert bad.returncode != 0 and "outside the array" in bad.stderr
    missing = run(moonpalace_bin, "replay", "--id", "42", "--data-dir", proxy.data_dir, check=False)
    assert missing.returncode != 0 and "no exchange matches" in missing.stderr
    other = run(moonpalace_bin, "replay", "--id", "1", "--endpoint", "https://example.invalid", "--data-dir",
                proxy.data_dir, check=False)
    assert other.returncode != 0 and "running proxy" in other.stderr
    assert len(dump_exchanges(moonpalace_bin, proxy.data_dir)) == 1        # nothing was sent


def test_explain_against_the_mock(moonpalace_bin, proxy_factory, mock_factory, tmp_path):
    upstream = mock_factory()
    proxy = proxy_factory(upstream)
    record_one(proxy.base_url, max_tokens=3)
    stop(proxy)
    explainer = mock_factory("--require-key", "sk-explain-key-0000")
    root = explainer[: -len("/v1")]
    prompt = run(moonpalace_bin, "explain", "--id", "1", "--endpoint", root, "--print-prompt",
                 "--data-dir", proxy.data_dir).stdout
    assert prompt.startswith(f"POST {root}/v1/chat/completions")
    body = json.loads(prompt.split("\n", 1)[1])
    assert body["messages"][0]["role"] == "system" and "Moonshot" in body["messages"][0]["content"]
    assert "Tell me about the moon palace." in body["messages"][1]["content"]
    assert "sk-replaytest0123456789" not in prompt
    answer = run(moonpalace_bin, "explain", "--id", "1", "--endpoint", root, "--data-dir", proxy.data_dir,
                 env={"MOONSHOT_API_KEY": "sk-explain-key-0000"}).stdout
    assert answer.strip()
    with open(os.path.join(proxy.data_dir, "config.yaml"), "w") as f:
        f.write(f"endpoint: {root}\nstart:\n  key: sk-explain-key-0000\n")
    assert run(moonpalace_bin, "explain", "--id", "1", "--data-dir", proxy.data_dir).stdout.strip()
    wrong = run(moonpalace_bin, "explain", "--id", "1", "--key", "sk-wrong", "--data-dir", proxy.data_dir, check=False)
    assert wrong.returncode != 0 and "HTTP 401" in wrong.stderr
    os.remove(os.path.join(proxy.data_dir, "config.yaml"))
    # config.yml (MoonPalace's other spelling) is read the same way `start` reads it
    with open(os.path.join(proxy.data_dir, "config.yml"), "w") as f:
        f.write(f"endpoint: {root}\nstart:\n  key: sk-explain-key-0000\n")
    assert run(moonpalace_bin, "explain", "--id", "1", "--data-dir", proxy.data_dir,
               env={"MOONSHOT_API_KEY": ""}).stdout.strip()
    os.remove(os.path.join(proxy.data_dir, "config.yml"))
    # ~/.moonpalace/config.yaml that moves the data elsewhere: its endpoint and key still apply (as for `start`)
    home = tmp_path / "home"
    (home / ".moonpalace").mkdir(parents=True)
    (home / ".moonpalace" / "config.yaml").write_text(
        f"endpoint: {root}\ndata-dir: {proxy.data_dir}\nstart:\n  key: sk-explain-key-0000\n")
    moved = {k: v for k, v in os.environ.items() if k not in ("MOONSHOT_API_KEY", "MOONPALACE_HOME")}
    moved["HOME"] = str(home)
    redirected = subprocess.run([moonpalace_bin, "explain", "--id", "1"], capture_output=True, text=True, timeout=60,
                                env=moved)
    assert redirected.returncode == 0 and redirected.stdout.strip(), redirected.stderr
    env = {k: v for k, v in os.environ.items() if k != "MOONSHOT_API_KEY"}
    nokey = subprocess.run([moonpalace_bin, "explain", "--id", "1", "--endpoint", root, "--data-dir", proxy.data_dir],
                           capture_output=True, text=True, timeout=60, env=env)
    assert nokey.returncode != 0 and "MOONSHOT_API_KEY" in nokey.stderr
