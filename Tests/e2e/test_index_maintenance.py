"""End-to-end tests of index maintenance and list presentation against the real binary: `index compact` rewrites
the log without deleted exchanges, `list` fits the terminal, `--since/--until` take relative ages."""
import json
import os
import subprocess


def run(binary, *args, check=True, env=None):
    out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **(env or {})})
    if check:
        assert out.returncode == 0, f"{args}: rc={out.returncode} {out.stderr}"
    return out


def jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def log_bytes(data):
    d = os.path.join(data, "log")
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def test_index_compact_rewrites_the_log_without_deleted_exchanges(moonpalace_bin, tmp_path):
    data = str(tmp_path / "data")
    # Small segments, so the deleted exchanges sit in sealed ones.
    run(moonpalace_bin, "index", "_generate", "300", "--segment-bytes", "65536", "--data-dir", data)
    assert len([f for f in os.listdir(os.path.join(data, "log")) if f.endswith(".seg")]) > 3
    run(moonpalace_bin, "cleanup", "--id", "5", "--id", "6", "--id", "7", "--yes", "--data-dir", data)
    before = log_bytes(data)
    out = run(moonpalace_bin, "index", "compact", "--data-dir", data).stdout
    assert "3 deleted exchanges, 6 records dropped" in out, out
    assert log_bytes(data) < before
    ids = [r["id"] for r in jsonl(run(moonpalace_bin, "list", "-n", "0", "--json", "--data-dir", data).stdout)]
    assert len(ids) == 297 and not {5, 6, 7} & set(ids)
    # Positions moved: the rebuilt index reads the rewritten segments correctly.
    shown = json.loads(run(moonpalace_bin, "inspect", "--id", "8", "--json", "--data-dir", data).stdout)
    assert shown["metadata"]["moonpalace_id"] == "8"
    assert "ok: the index matches the log" in run(moonpalace_bin, "index", "verify", "--data-dir", data).stdout
    gone = run(moonpalace_bin, "inspect", "--id", "6", "--data-dir", data, check=False)
    assert gone.returncode == 2


def test_list_fits_the_terminal_width(moonpalace_bin, tmp_path):
    data = str(tmp_path / "data")
    run(moonpalace_bin, "index", "_generate", "30", "--data-dir", data)
    for width in (60, 100, 160):
        out = run(moonpalace_bin, "list", "-n", "5", "--data-dir", data, env={"COLUMNS": str(width)}).stdout
        lines = [l for l in out.splitlines() if l]
        assert len(lines) >= 9
        assert max(len(l) for l in lines) <= width, (width, out)


def test_since_and_until_take_relative_ages(moonpalace_bin, tmp_path):
    data = str(tmp_path / "data")
    # 100 exchanges spread over the last 10 days.
    run(moonpalace_bin, "index", "_generate", "100", "--days", "10", "--data-dir", data)
    def count(*flags):
        return len(jsonl(run(moonpalace_bin, "list", "-n", "0", "--json", *flags, "--data-dir", data).stdout))
    recent, older = count("--since", "3d"), count("--until", "3d")
    assert 20 <= recent <= 40 and recent + older == 100
    assert count("--since", "2h") <= 2
    assert count("--since", "5d", "--until", "2d") == count("--since", "5d") - count("--since", "2d")
    bad = run(moonpalace_bin, "list", "--since", "yesterday-ish", "--data-dir", data, check=False)
    assert bad.returncode != 0 and "30m, 2h, 3d" in bad.stderr


def test_a_killed_rebuild_leaves_the_old_index_whole(moonpalace_bin, tmp_path):
    """`index rebuild` writes a new index in build files of its own and copies it over the live one in one
    transaction: killed at any point (SIGKILL, no cleanup), the index still answers as before, and the next
    command removes the build files it left."""
    import time
    data = str(tmp_path / "data")
    run(moonpalace_bin, "index", "_generate", "2000", "--data-dir", data)
    ids = [r["id"] for r in jsonl(run(moonpalace_bin, "list", "-n", "0", "--json", "--data-dir", data).stdout)]
    hits = [r["id"] for r in jsonl(run(moonpalace_bin, "search", "the", "-n", "0", "--json", "--data-dir", data).stdout)]
    assert len(ids) == 2000 and len(hits) > 100
    build = os.path.join(data, "index.sqlite-rebuild")
    fulltext = os.path.join(data, "index.sqlite-fulltext-rebuild")
    killed = 0
    for _ in range(20):
        p = subprocess.Popen([moonpalace_bin, "index", "rebuild", "--data-dir", data],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while p.poll() is None and time.time() < deadline:
            # Under way: the build files exist (the full-text one is made once the row file has its tables).
            if os.path.exists(build) and os.path.exists(fulltext):
                time.sleep(0.05 * killed)   # later and later into the rebuild on each round
                p.kill()
                killed += 1
                break
            time.sleep(0.002)
        p.wait(timeout=60)
        if killed >= 3:
            break
    assert killed >= 3, "the rebuild was never caught under way"
    out = run(moonpalace_bin, "list", "-n", "0", "--json", "--data-dir", data)
    assert [r["id"] for r in jsonl(out.stdout)] == ids
    assert "rebuild" not in out.stderr and "interrupted" not in out.stderr, out.stderr
    assert not os.path.exists(build) and not os.path.exists(fulltext), os.listdir(data)
    again = run(moonpalace_bin, "search", "the", "-n", "0", "--json", "--data-dir", data).stdout
    assert [r["id"] for r in jsonl(again)] == hits
    assert "ok: the index matches the log" in run(moonpalace_bin, "index", "verify", "--data-dir", data).stdout
    # A rebuild that runs to its end gives the same answers.
    run(moonpalace_bin, "index", "rebuild", "--data-dir", data)
    assert [r["id"] for r in jsonl(run(moonpalace_bin, "search", "the", "-n", "0", "--json", "--data-dir", data).stdout)] == hits
    assert not [f for f in os.listdir(data) if "rebuild" in f], os.listdir(data)
