"""libcurl is loaded on first use (CCurlShim/loader.c), not linked: commands that never talk upstream never map it
and its ~25 dependencies, and a missing libcurl stops `start` with a message saying how to install it."""
import os
import subprocess

from conftest import MOCK_READY
from test_mock_support import MODEL, USER, chat
from test_proxy_util import proxy_factory  # noqa: F401 (fixture)


def mapped_files(pid):
    with open(f"/proc/{pid}/maps") as f:
        return {line.split()[-1] for line in f if len(line.split()) >= 6}


def test_binary_does_not_link_libcurl(moonpalace_bin):
    needed = subprocess.run(["readelf", "-d", moonpalace_bin], capture_output=True, text=True, check=True).stdout
    assert "libcurl" not in needed and "libssl" not in needed, needed


def test_mock_serves_without_mapping_libcurl(moonpalace_bin, start_process):
    mock = start_process([moonpalace_bin, "mock", "--port", "0"], MOCK_READY)
    status, _, _ = chat(mock.match.group(1), {"model": MODEL, "messages": USER})
    assert status == 200
    files = mapped_files(mock.popen.pid)
    assert not [f for f in files if "libcurl" in f or "libssl" in f or "libgnutls" in f], sorted(files)


def test_proxy_loads_libcurl_and_forwards(mock_factory, proxy_factory):
    mock = mock_factory()
    proxy = proxy_factory(mock.removesuffix("/v1"))
    status, _, body = chat(proxy.base_url, {"model": MODEL, "messages": USER})
    assert status == 200 and b"chatcmpl-" in body
    assert any("libcurl" in f for f in mapped_files(proxy.process.popen.pid))


def test_missing_libcurl_stops_start_with_a_clear_message(moonpalace_bin, tmp_path):
    out = subprocess.run(
        [moonpalace_bin, "start", "--port", "0", "--data-dir", str(tmp_path / "palace")],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "NO_COLOR": "1", "MOONPALACE_LIBCURL": str(tmp_path / "no-such-libcurl.so.4")})
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "cannot load libcurl" in text and "no-such-libcurl.so.4" in text and "apt-get install" in text, text
