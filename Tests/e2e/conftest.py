"""Shared fixtures for the end-to-end tests: the built binary, free ports, processes that stop at teardown,
and a running `moonpalace mock`.

Everyone's tests may use these:
- `moonpalace_bin` — path of the binary under test (env MOONPALACE_BIN, else .build/debug/moonpalace).
- `free_port()` — a TCP port nobody listens on right now.
- `start_process(args, ready_line_regex)` — fixture returning a launcher; the process is killed at teardown.
- `mock_server` — base URL (with /v1) of a fresh `moonpalace mock` on a free port.
- `mock_factory(*extra_args)` — start another mock with extra flags (e.g. "--scenario", "drop").
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _binary() -> str:
    path = os.environ.get("MOONPALACE_BIN") or str(REPO / ".build" / "debug" / "moonpalace")
    if not os.path.exists(path):
        pytest.exit(f"moonpalace binary not found at {path}: build it (swift build) or set MOONPALACE_BIN", 2)
    return path


@pytest.fixture(scope="session")
def moonpalace_bin() -> str:
    return _binary()


def free_port() -> int:
    """A port that was free a moment ago (bind to 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningProcess:
    """A launched process, the regex match of its ready line, and everything it printed so far."""

    def __init__(self, popen: subprocess.Popen, match: "re.Match[str]", lines: list):
        self.popen = popen
        self.match = match
        self.lines = lines

    @property
    def output(self) -> str:
        return "".join(self.lines)


def _launch(args, ready_line_regex, timeout, env):
    popen = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        env={**os.environ, **(env or {})}, start_new_session=True,
    )
    pattern = re.compile(ready_line_regex)
    lines: list = []
    found = {}
    ready = threading.Event()

    def pump():
        for line in popen.stdout:
            lines.append(line)
            if "match" not in found:
                match = pattern.search(line)
                if match:
                    found["match"] = match
                    ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    ready.wait(timeout)
    if "match" not in found:
        _stop(popen)
        raise RuntimeError(
            f"{' '.join(map(str, args))} did not print a line matching {ready_line_regex!r} within {timeout}s; "
            f"output:\n{''.join(lines)}")
    return RunningProcess(popen, found["match"], lines)


def _stop(popen: subprocess.Popen):
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=5)


@pytest.fixture
def start_process():
    """Returns `launch(args, ready_line_regex, timeout=30, env=None) -> RunningProcess`; all are stopped at teardown."""
    started = []

    def launch(args, ready_line_regex, timeout=30, env=None):
        process = _launch([str(a) for a in args], ready_line_regex, timeout, env)
        started.append(process.popen)
        return process

    yield launch
    for popen in started:
        _stop(popen)


MOCK_READY = r"(http://127\.0\.0\.1:\d+/v1)"


@pytest.fixture
def mock_factory(moonpalace_bin, start_process):
    """Starts `moonpalace mock --port 0 <extra>` and returns its base URL."""
    def start(*extra):
        process = start_process([moonpalace_bin, "mock", "--port", "0", *extra], MOCK_READY)
        return process.match.group(1)
    return start


@pytest.fixture
def mock_server(mock_factory) -> str:
    """Base URL (ending in /v1) of a fresh mock server."""
    return mock_factory()


def wait_until(predicate, timeout=5.0, interval=0.05):
    """Polls `predicate` until it is truthy or the timeout passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
