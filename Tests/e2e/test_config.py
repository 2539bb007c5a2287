"""config.yaml wired into `moonpalace start`: flags beat config beat defaults, errors name the line, secrets stay
out of --help, MoonPalace's `config.yml` spelling, `data-dir` redirection, and the retention key."""
import json
import os
import subprocess

try:
    import httpx
except ImportError:  # the SDK in this venv ships its HTTP client as httpx2
    import httpx2 as httpx
import openai

from test_proxy_util import BANNER, dump_exchanges, proxy_factory  # noqa: F401 (fixtures)

CHAT = {"model": "moonshot-v1-8k", "messages": [{"role": "user", "content": "Hi"}], "seed": 3}


def write_config(data_dir, text, name="config.yaml"):
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, name), "w") as f:
        f.write(text)


def start_fails(moonpalace_bin, data_dir, *args):
    r = subprocess.run([moonpalace_bin, "start", "--port", "0", "--data-dir", str(data_dir), *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0, r.stdout + r.stderr
    return r.stderr


def forced(moonpalace_bin, proxy):
    openai.OpenAI(base_url=proxy.base_url, api_key="sk-x").chat.completions.create(**CHAT)
    last = dump_exchanges(moonpalace_bin, proxy.data_dir)
    return "forced_stream" in last[max(last)]["begin"]["flags"]


def test_flags_beat_config_beat_defaults(mock_server, proxy_factory, moonpalace_bin, tmp_path):
    upstream = mock_server.removesuffix("/v1")
    default_dir = str(tmp_path / "defaults")
    assert not forced(moonpalace_bin, proxy_factory(upstream, data_dir=default_dir))           # default: off
    config_dir = str(tmp_path / "config")
    write_config(config_dir, "start:\n  force-stream: true\n  detect-repeat:\n    threshold: 0.7\n")
    assert forced(moonpalace_bin, proxy_factory(upstream, data_dir=config_dir))                # config: on
    flag_dir = str(tmp_path / "flag")
    write_config(flag_dir, "start:\n  force-stream: true\n")
    assert not forced(moonpalace_bin, proxy_factory(upstream, "--no-force-stream", data_dir=flag_dir))  # flag wins


def test_config_endpoint_and_key_apply_and_the_key_never_shows(mock_server, start_process, moonpalace_bin, tmp_path):
    data_dir = str(tmp_path / "d")
    write_config(data_dir, f"endpoint: {mock_server}\nstart:\n  key: sk-config-secret-key-4321\n  port: 0\n")
    help_text = subprocess.run([moonpalace_bin, "start", "--help", "--data-dir", data_dir],
                               capture_output=True, text=True).stdout
    assert "--key" in help_text and "sk-config-secret" not in help_text and "4321" not in help_text
    proc = start_process([moonpalace_bin, "start", "--data-dir", data_dir], BANNER, env={"NO_COLOR": "1"})
    base = proc.match.group(1)
    answer = openai.OpenAI(base_url=base, api_key="sk-client").chat.completions.create(**CHAT)
    assert answer.object == "chat.completion"                   # reached the mock named by `endpoint`
    x = dump_exchanges(moonpalace_bin, data_dir)
    headers = {h["name"].lower(): h["value"] for h in list(x.values())[0]["begin"]["request_headers"]}
    assert headers["authorization"].endswith("4321") and "sk-config-secret" not in headers["authorization"]
    assert "sk-config-secret" not in proc.output


def test_errors_name_the_file_and_line(moonpalace_bin, tmp_path):
    cases = [
        ("start:\n  port: 9988\n  colour: blue\n", ":3:", "unknown key 'colour'"),
        ("start:\n  detect-repeat:\n    threshold: 2\n", ":3:", "between 0"),
        ("start:\n  port: [1, 2\n", ":", "invalid YAML"),
        ("endpoint: cn\nstart:\n  auto-cache:\n    ttl: soon\n", ":4:", "whole number"),
        ("start:\n  retention:\n    max-size: lots\n", ":3:", "10GiB"),
        ("start:\n  sync: sometimes\n", ":2:", "always, batch or none"),
    ]
    for i, (text, line, words) in enumerate(cases):
        data_dir = tmp_path / f"c{i}"
        write_config(str(data_dir), text)
        err = start_fails(moonpalace_bin, data_dir)
        assert "config.yaml" + line in err and words in err, (text, err)
        assert not any(n.startswith("0") for n in os.listdir(data_dir / "log")) if (data_dir / "log").exists() else True


def test_config_yml_spelling_and_bad_flags(mock_server, proxy_factory, moonpalace_bin, tmp_path):
    data_dir = str(tmp_path / "yml")
    write_config(data_dir, "start:\n  force-stream: true\n", name="config.yml")
    assert forced(moonpalace_bin, proxy_factory(mock_server.removesuffix("/v1"), data_dir=data_dir))
    assert "--repeat-threshold" in start_fails(moonpalace_bin, tmp_path / "f1", "--repeat-threshold", "1.5")
    assert "--cache-ttl" in start_fails(moonpalace_bin, tmp_path / "f2", "--cache-ttl", "0")
    assert "--retention-max-age" in start_fails(moonpalace_bin, tmp_path / "f3", "--retention-max-age", "forever")


def test_data_dir_key_moves_the_data(mock_server, start_process, moonpalace_bin, tmp_path):
    home = tmp_path / "home"
    elsewhere = tmp_path / "elsewhere"
    write_config(str(home / ".moonpalace"), f"data-dir: {elsewhere}\nendpoint: {mock_server}\n")
    env = {"HOME": str(home), "MOONPALACE_HOME": "", "NO_COLOR": "1"}
    proc = start_process([moonpalace_bin, "start", "--port", "0"], BANNER, env=env)
    openai.OpenAI(base_url=proc.match.group(1), api_key="sk-x").chat.completions.create(**CHAT)
    assert len(dump_exchanges(moonpalace_bin, str(elsewhere))) == 1
    rows = subprocess.run([moonpalace_bin, "list", "--json"], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)
    assert rows.returncode == 0 and len(rows.stdout.strip().splitlines()) == 1   # list follows data-dir too


def test_retention_drops_old_segments_at_start(moonpalace_bin, start_process, tmp_path, mock_server):
    data_dir = str(tmp_path / "ret")
    subprocess.run([moonpalace_bin, "log", "_append-stress", "--data-dir", data_dir, "--count", "800",
                    "--size", "4000", "--segment-bytes", "20000", "--concurrency", "1"],
                   capture_output=True, timeout=120, check=True)
    def segments():
        return sorted(n for n in os.listdir(os.path.join(data_dir, "log")) if n.endswith(".seg"))
    before = segments()
    assert len(before) >= 4, before
    write_config(data_dir, f"endpoint: {mock_server}\nstart:\n  retention:\n    max-size: 50KB\n")
    proc = start_process([moonpalace_bin, "start", "--port", "0", "--data-dir", data_dir], BANNER,
                         env={"NO_COLOR": "1"})
    from conftest import wait_until
    assert wait_until(lambda: "retention: removed" in proc.output, timeout=20), proc.output
    after = segments()
    assert len(after) < len(before) and after[-1] == before[-1]      # oldest first; the active one stays
    stat = subprocess.run([moonpalace_bin, "log", "verify", "--data-dir", data_dir], capture_output=True, text=True)
    assert stat.returncode == 0, stat.stdout + stat.stderr


def test_moonpalace_bool_flag_syntax_beats_config(mock_server, proxy_factory, moonpalace_bin, tmp_path):
    """MoonPalace's (Go pflag) `--flag=true|false` spellings of start's boolean flags, still flags > config."""
    upstream = mock_server.removesuffix("/v1")
    on_dir = str(tmp_path / "on")
    write_config(on_dir, "start:\n  force-stream: true\n  detect-repeat: {}\n  auto-cache: {}\n")
    off = proxy_factory(upstream, "--force-stream=false", "--detect-repeat=False", "-auto-cache=0", data_dir=on_dir)
    assert not forced(moonpalace_bin, off)
    on_repeat = {**CHAT, "stream": True, "max_tokens": 600}
    system = {"role": "system", "content": "You are a careful assistant. " * 200}     # cacheable (> 4096 bytes)
    long_chat = {**CHAT, "messages": [system, *CHAT["messages"]]}
    AUTH = {"Authorization": "Bearer sk-flag-syntax"}                                # caches need a key
    with httpx.Client(timeout=60) as c:
        r = c.post(off.base_url + "/chat/completions", json=on_repeat, headers={"X-Mock-Scenario": "repeat"})
        assert b'"finish_reason":"length"' in r.content and b'"repeat"' not in r.content   # detection off
        c.post(off.base_url + "/chat/completions", json=long_chat, headers=AUTH).raise_for_status()
    assert not any("cache_used" in x["end"]["flags"] for x in dump_exchanges(moonpalace_bin, off.data_dir).values())

    plain_dir = str(tmp_path / "plain")
    write_config(plain_dir, "start:\n  force-stream: false\n")
    on = proxy_factory(upstream, "--force-stream=true", "--detect-repeat=1", "--auto-cache=TRUE", data_dir=plain_dir)
    assert forced(moonpalace_bin, on)
    with httpx.Client(timeout=60) as c:
        r = c.post(on.base_url + "/chat/completions", json=on_repeat, headers={"X-Mock-Scenario": "repeat"})
        assert b'"finish_reason":"repeat"' in r.content                                   # detection on
        c.post(on.base_url + "/chat/completions", json=long_chat, headers=AUTH).raise_for_status()
    assert any("cache_used" in x["end"]["flags"] for x in dump_exchanges(moonpalace_bin, on.data_dir).values())
    # the last spelling wins, as in Go; a value is only taken after '=' (Go: `--force-stream false` is an error)
    assert not forced(moonpalace_bin, proxy_factory(upstream, "--force-stream", "--force-stream=f", data_dir=str(tmp_path / "last")))
    err = start_fails(moonpalace_bin, tmp_path / "bad", "--detect-repeat=maybe")
    assert "invalid value 'maybe' for '--detect-repeat'" in err and "--detect-repeat=false" in err
    assert "'false'" in start_fails(moonpalace_bin, tmp_path / "bad2", "--force-stream", "false")
