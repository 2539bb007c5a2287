"""Details of the read commands that an audit against issues 5/6 and MoonPalace (reference §2, §12) found missing:
the default `list` table's server_timing column, clear errors for unknown `inspect --print` columns and empty search
texts, MoonPalace's root `-v`, `explain --endpoint mock`, `cleanup --compact` reclaiming log bytes, and `start
--retain-days/--retain-bytes`. Real binary, logs written by the real writer."""
import json
import os
import subprocess

from conftest import wait_until
from test_proxy_util import BANNER


def run(binary, *args, check=True, env=None):
    out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **(env or {})})
    if check:
        assert out.returncode == 0, f"{args}: rc={out.returncode} {out.stderr}"
    return out


def generate(binary, data, count=60, segment_bytes=None):
    extra = ["--segment-bytes", str(segment_bytes)] if segment_bytes else []
    run(binary, "index", "_generate", str(count), *extra, "--data-dir", data)


def log_bytes(data):
    log = os.path.join(data, "log")
    return sum(os.path.getsize(os.path.join(log, n)) for n in os.listdir(log) if n.endswith(".seg"))


def test_list_table_has_moonpalace_columns_then_ours(moonpalace_bin, tmp_path):
    data = str(tmp_path / "d")
    generate(moonpalace_bin, data, 5)
    header = run(moonpalace_bin, "list", "--data-dir", data, env={"COLUMNS": "400"}).stdout.splitlines()[1]
    cols = [c.strip() for c in header.strip("|").split("|")]
    assert cols[:6] == ["id", "status", "chatcmpl", "request_id", "server_timing", "requested_at"]
    assert cols[6:] == ["model", "tokens", "ttft", "latency", "finish_reason", "error_step"]


def test_inspect_print_unknown_column_is_an_error(moonpalace_bin, tmp_path):
    data = str(tmp_path / "d")
    generate(moonpalace_bin, data, 3)
    bad = run(moonpalace_bin, "inspect", "--id", "1", "--print", "metadata,bogus", "--data-dir", data, check=False)
    assert bad.returncode != 0 and bad.stdout == ""
    assert 'unknown column "bogus"' in bad.stderr and "request_body" in bad.stderr
    ok = run(moonpalace_bin, "inspect", "--id", "1", "--print", "metadata, merged", "--data-dir", data)
    assert "moonpalace_id" in ok.stdout
    healthy = next(r["id"] for r in map(json.loads, run(moonpalace_bin, "list", "-n", "0", "--json", "--data-dir", data)
                   .stdout.splitlines()) if r["status"] == 200 and not r["error_step"])
    only_error = run(moonpalace_bin, "inspect", "--id", str(healthy), "--print", "error", "--data-dir", data)
    assert only_error.stdout.startswith(f"exchange {healthy} has no error (status 200 OK")     # not an empty table


def test_search_needs_a_searchable_text(moonpalace_bin, tmp_path):
    data = str(tmp_path / "d")
    generate(moonpalace_bin, data, 3)
    for args in (["search", ""], ["search", "  ?! "], ["list", "--text", ""]):
        bad = run(moonpalace_bin, *args, "--data-dir", data, check=False)
        assert bad.returncode != 0 and "at least one letter or digit" in bad.stderr, (args, bad.stderr)
        assert bad.stdout == ""


def test_negative_limit_means_no_limit(moonpalace_bin, tmp_path):
    data = str(tmp_path / "d")
    generate(moonpalace_bin, data, 15)
    for args in (["list", "-n", "-1"], ["list", "--n", "-5"], ["search", "the", "-n", "-1"]):
        out = run(moonpalace_bin, *args, "--json", "--data-dir", data).stdout.splitlines()
        assert len(out) > 10, (args, len(out))


def test_root_dash_v_prints_the_version(moonpalace_bin):
    short, long = run(moonpalace_bin, "-v"), run(moonpalace_bin, "--version")
    assert short.stdout == long.stdout and short.stdout.startswith("moonpalace version v")


def test_explain_against_the_built_in_mock(moonpalace_bin, tmp_path):
    data = str(tmp_path / "d")
    generate(moonpalace_bin, data, 3)
    env = {"MOONSHOT_API_KEY": ""}
    out = run(moonpalace_bin, "explain", "--id", "2", "--endpoint", "mock", "--data-dir", data, env=env)
    assert len(out.stdout.strip()) > 20 and "error" not in out.stderr
    # config.yaml's `endpoint: mock` (which `start` accepts) works the same way.
    with open(os.path.join(data, "config.yaml"), "w") as f:
        f.write("endpoint: mock\n")
    assert run(moonpalace_bin, "explain", "--id", "2", "--data-dir", data, env=env).stdout.strip()


def test_cleanup_compact_reclaims_log_bytes(moonpalace_bin, tmp_path):
    data = str(tmp_path / "d")
    generate(moonpalace_bin, data, 200, segment_bytes=20000)
    before = log_bytes(data)
    ids = [str(i) for i in range(1, 101)]
    args = ["cleanup", "--yes", "--compact", "--data-dir", data]
    for i in ids:
        args += ["--id", i]
    out = run(moonpalace_bin, *args)
    assert "| cleanup | 100 |" in out.stdout
    assert "compacted:" in out.stderr
    after = log_bytes(data)
    assert after < before * 0.75, (before, after)
    rows = [json.loads(x)["id"] for x in run(moonpalace_bin, "list", "-n", "0", "--json", "--data-dir", data).stdout.splitlines()]
    assert rows == list(range(200, 100, -1))
    assert run(moonpalace_bin, "log", "verify", "--data-dir", data).returncode == 0
    assert run(moonpalace_bin, "index", "verify", "--data-dir", data).returncode == 0


def test_start_retain_days_and_bytes(moonpalace_bin, start_process, tmp_path):
    bad = run(moonpalace_bin, "start", "--port", "0", "--retain-days", "0", "--data-dir", str(tmp_path / "x"), check=False)
    assert bad.returncode != 0 and "--retain-days" in bad.stderr
    both = run(moonpalace_bin, "start", "--port", "0", "--retain-bytes", "1MB", "--retention-max-size", "1MB",
               "--data-dir", str(tmp_path / "x"), check=False)
    assert both.returncode != 0 and "not both" in both.stderr
    data = str(tmp_path / "d")
    generate(moonpalace_bin, data, 300, segment_bytes=20000)
    proc = start_process([moonpalace_bin, "start", "--port", "0", "--endpoint", "mock", "--no-web",
                          "--retain-days", "3650", "--retain-bytes", "60KB", "--data-dir", data], BANNER,
                         env={"NO_COLOR": "1"})
    assert wait_until(lambda: "retention: removed" in proc.output, timeout=30), proc.output
    assert log_bytes(data) < 120_000
