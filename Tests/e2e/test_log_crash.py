"""Crash test of the log writer: a child process (`moonpalace log _append-stress`) appends records and prints each
acknowledged id; the parent kill -9s it at a random moment, then checks that every acknowledged record is present
and intact, that `log verify` finds no damage (a torn tail is fine), and that the next writer continues the ids.

Rounds: MOONPALACE_CRASH_ROUNDS (default 200; `make crash-test` runs thousands).
"""
import json
import os
import random
import select
import signal
import struct
import subprocess
import time

import pytest

ROUNDS = int(os.environ.get("MOONPALACE_CRASH_ROUNDS", "200"))


def body(key: str, size: int) -> str:
    unit = key + "."
    return (unit * (size // len(unit) + 1))[:size]


def run(bin_, *args):
    return subprocess.run([bin_, *args], capture_output=True, text=True, timeout=120)


def dump(bin_, data, start):
    p = run(bin_, "log", "dump", "--data-dir", data, "--from", str(start))
    assert p.returncode == 0, p.stderr
    assert "warning" not in p.stderr, p.stderr
    return {r["id"]: r for r in map(json.loads, p.stdout.splitlines())}


def crash_round(bin_, data, rng):
    size = rng.choice([0, 10, 200, 2000, 9000, 70000])
    args = [bin_, "log", "_append-stress", "--data-dir", data, "--size", str(size),
            "--concurrency", str(rng.randint(1, 8)), "--sync", rng.choice(["none", "batch", "always"]),
            "--segment-bytes", str(rng.choice([16 << 10, 256 << 10, 64 << 20]))]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = b""
    if rng.random() < 0.8:
        # Mostly kill while appends are flowing: wait for the first acknowledgement (however slow the start).
        ready, _, _ = select.select([child.stdout], [], [], 20)
        if ready:
            head = os.read(child.stdout.fileno(), 1 << 16)
        time.sleep(rng.uniform(0, 0.05))
    else:
        # Sometimes kill blind: during start-up, recovery or the first appends.
        time.sleep(rng.uniform(0.001, 0.1))
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate()
    out = head + out
    assert child.returncode == -signal.SIGKILL, err.decode()
    acks = []
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 3:  # the last line may be cut mid-way by the kill; complete lines are acknowledgements
            acks.append((int(parts[0]), int(parts[1]), parts[2], size))
    return acks


def check(records, acks):
    for seq, xid, key, size in acks:
        r = records.get(seq)
        assert r is not None, f"acknowledged record {seq} ({key}) is missing"
        assert r["type"] == "begin" and r["exchange"] == xid and r["target"] == "/stress/" + key, r
        assert r["request_body"] == body(key, size), f"record {seq} body differs"


def test_every_acknowledged_append_survives_kill_9(moonpalace_bin, tmp_path):
    data = str(tmp_path / "data")
    rng = random.Random(int(os.environ.get("MOONPALACE_CRASH_SEED", "2026")))
    all_acks, unchecked = [], []
    for n in range(ROUNDS):
        acks = crash_round(moonpalace_bin, data, rng)
        all_acks += acks
        unchecked += acks
        if unchecked and (n % 10 == 9 or n == ROUNDS - 1):
            check(dump(moonpalace_bin, data, min(a[0] for a in unchecked)), unchecked)
            unchecked = []
        if n % 50 == 49:
            v = run(moonpalace_bin, "log", "verify", "--data-dir", data)
            assert v.returncode == 0, v.stdout + v.stderr
    assert len(all_acks) > ROUNDS, "the child acknowledged too few appends to test anything"
    records = dump(moonpalace_bin, data, 0)
    check(records, all_acks)
    ids = sorted(records)
    assert ids == list(range(1, len(ids) + 1)), "sequence numbers must be dense"
    xids = sorted(r["exchange"] for r in records.values())
    assert xids == list(range(1, len(xids) + 1)), "exchange ids must be dense"
    v = run(moonpalace_bin, "log", "verify", "--data-dir", data)
    assert v.returncode == 0 and v.stdout.startswith(("ok:", "torn tail")), v.stdout + v.stderr
    # A writer continues after the last record.
    p = subprocess.run([moonpalace_bin, "log", "_append-stress", "--data-dir", data, "--count", "1"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    seq, xid, _ = p.stdout.split()
    assert int(seq) == ids[-1] + 1 and int(xid) == xids[-1] + 1
    # After that clean close, CHECKPOINT (FORMAT.md "Checkpoint") covers the whole active segment.
    check_checkpoint(os.path.join(data, "log"), int(seq) + 1, int(xid) + 1)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def check_checkpoint(log_dir, next_seq, next_xid):
    raw = open(os.path.join(log_dir, "CHECKPOINT"), "rb").read()
    assert len(raw) == 64 and raw[:8] == b"MPLOGCKP", raw
    version, size, _, segment, length, cp_seq, cp_xid, last, _, crc = struct.unpack("<HHIQQQQQII", raw[8:])
    assert (version, size) == (1, 64) and crc == crc32c(raw[:60])
    segments = sorted(f for f in os.listdir(log_dir) if f.endswith(".seg"))
    active = os.path.join(log_dir, segments[-1])
    assert segment == int(segments[-1][:-4]) and length == os.path.getsize(active)
    assert cp_seq == next_seq and cp_xid == next_xid
    with open(active, "rb") as f:
        f.seek(last)
        frame = f.read(44)
    stored = struct.unpack("<I", frame[8:12])[0]
    assert frame[:4] == b"\xfe\x4d\x50\x4c" and last + 44 + stored == length
    assert struct.unpack("<Q", frame[20:28])[0] == next_seq - 1


def test_second_writer_is_refused(moonpalace_bin, tmp_path):
    data = str(tmp_path / "data")
    first = subprocess.Popen([moonpalace_bin, "log", "_append-stress", "--data-dir", data, "--size", "10"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first.stdout.readline()  # it holds the lock once it has acknowledged a record
        p = run(moonpalace_bin, "log", "_append-stress", "--data-dir", data, "--count", "1")
        assert p.returncode != 0
        assert f"error: another moonpalace (pid {first.pid}) is writing to {data}/log" in p.stderr
        # Readers are fine beside the writer.
        assert run(moonpalace_bin, "log", "stat", "--data-dir", data).returncode == 0
        s = json.loads(run(moonpalace_bin, "log", "stat", "--json", "--data-dir", data).stdout)
        assert s["records"] >= 1 and s["damaged_regions"] == 0
    finally:
        first.kill()
        first.wait()
