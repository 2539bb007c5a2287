"""`moonpalace start` under load and under abuse: 500 concurrent streams, kill -9, SIGTERM, a full disk."""
import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from test_proxy_util import dump_exchanges, proxy_factory, rss_kib  # noqa: F401 (fixtures)
from conftest import wait_until

BODY = b'{"model":"moonshot-v1-8k","stream":true,"messages":[{"role":"user","content":"hi"}]}'


async def stream_once(port, request_id, chunks=20, delay_ms=5, path="/v1/chat/completions", started=None):
    """One raw HTTP/1.1 streaming call. Returns (got_head, complete, body). `started` (a list) gets the request id
    once the first bytes of the answer arrived."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
            f"X-Request-Id: {request_id}\r\nX-Mock-Chunks: {chunks}\r\nX-Mock-Chunk-Delay-Ms: {delay_ms}\r\n"
            f"Content-Length: {len(BODY)}\r\n\r\n").encode()
    writer.write(head + BODY)
    data = b""
    try:
        while True:
            piece = await reader.read(65536)
            if not piece:
                break
            if started is not None and not data:
                started.append(request_id)
            data += piece
    except (ConnectionError, OSError):
        pass
    writer.close()
    got_head = data.startswith(b"HTTP/1.1 200")
    complete = got_head and data.endswith(b"0\r\n\r\n") and b"data: [DONE]" in data
    return got_head, complete, data


def run_clients(port, n, stagger=0.0, **kw):
    async def main():
        async def one(i):
            await asyncio.sleep(stagger * i / max(n, 1))
            return await stream_once(port, f"client-{i}", **kw)
        return await asyncio.gather(*[one(i) for i in range(n)])
    return asyncio.run(main())


def by_request_id(exchanges):
    return {x["begin"].get("client_request_id", x["begin"].get("clientRequestID")): x
            for x in exchanges.values() if x["begin"]}


def test_500_concurrent_streams_complete_with_bounded_rss(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    peak = [0]
    stop = [False]

    def sample():
        while not stop[0]:
            peak[0] = max(peak[0], rss_kib(proxy.process.popen.pid))
            time.sleep(0.05)
    import threading
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    results = run_clients(proxy.port, 500, chunks=30, delay_ms=10)
    stop[0] = True
    t.join()
    assert sum(1 for _, complete, _ in results if complete) == 500
    assert peak[0] < 256 * 1024, f"peak RSS {peak[0]} KiB"
    exchanges = wait_until(lambda: (lambda x: x if sum(1 for e in x.values() if e["end"]) >= 500 else None)(
        dump_exchanges(moonpalace_bin, proxy.data_dir)), timeout=10)
    assert exchanges, "not every exchange reached the log"


def test_kill_9_mid_streams_loses_nothing_begun(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    pid = proxy.process.popen.pid

    async def main():
        # some exchanges complete in full first, then 50 long streams are cut by the kill
        short = await asyncio.gather(*[stream_once(proxy.port, f"s-{i}", chunks=2, delay_ms=1) for i in range(10)])
        tasks = [asyncio.create_task(stream_once(proxy.port, f"k-{i}", chunks=100, delay_ms=20)) for i in range(50)]
        await asyncio.sleep(0.6)
        os.kill(pid, signal.SIGKILL)
        return list(await asyncio.gather(*tasks)) + list(short)
    results = asyncio.run(main())
    proxy.process.popen.wait(timeout=5)
    # restart on the same log: recovery keeps every record and new exchanges continue after them
    again = proxy_factory(mock_server.removesuffix("/v1"), data_dir=proxy.data_dir)
    assert asyncio.run(stream_once(again.port, "after-restart", chunks=2, delay_ms=0))[1]
    ids = [f"k-{i}" for i in range(50)] + [f"s-{i}" for i in range(10)]
    records = by_request_id(dump_exchanges(moonpalace_bin, proxy.data_dir))
    for rid, (got_head, complete, _) in zip(ids, results):
        if got_head:
            assert rid in records, f"{rid} reached the client but has no begin record"
        if complete:
            assert records[rid]["end"] is not None, f"{rid} was received in full but its exchange is incomplete"
    assert sum(1 for r in results if r[1]) >= 10
    after = wait_until(lambda: by_request_id(dump_exchanges(moonpalace_bin, proxy.data_dir)).get("after-restart"))
    assert after and after["end"] is not None
    assert after["begin"]["exchange"] > max(x["begin"]["exchange"] for k, x in records.items() if k != "after-restart")
    assert any(x["end"] is None for x in records.values()), \
        f"the kill should have left incomplete exchanges: {[(r[0], r[1], len(r[2])) for r in results]} {len(records)}"


def test_sigterm_under_load_finishes_in_flight_and_loses_nothing(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(mock_server.removesuffix("/v1"))
    popen = proxy.process.popen

    async def main():
        started = []
        tasks = [asyncio.create_task(stream_once(proxy.port, f"t-{i}", chunks=30, delay_ms=20, started=started))
                 for i in range(50)]
        # signal once most streams are under way (a fixed pause is too short on a loaded machine), well before
        # they can end (30 chunks × 20 ms)
        deadline = time.monotonic() + 10
        while len(started) < 30 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        popen.send_signal(signal.SIGTERM)
        return await asyncio.gather(*tasks)
    results = asyncio.run(main())
    assert popen.wait(timeout=15) == 0
    records = by_request_id(dump_exchanges(moonpalace_bin, proxy.data_dir))
    completed = [f"t-{i}" for i, r in enumerate(results) if r[1]]
    # a request accepted before the signal runs to its end; one that arrives after it is refused, not cut
    cut = [f"t-{i}" for i, r in enumerate(results) if r[0] and not r[1]]
    assert not cut, f"in-flight streams cut by a graceful shutdown: {cut}"
    assert len(completed) >= 25, f"only {len(completed)} of 50 streams were accepted before the signal"
    for rid in completed:
        assert records[rid]["end"] is not None


def test_full_disk_keeps_forwarding_and_capture_resumes(mock_server, proxy_factory, moonpalace_bin):
    mount = tempfile.mkdtemp(prefix="palace-tmpfs-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mount]).returncode != 0:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
    try:
        proxy = proxy_factory(mock_server.removesuffix("/v1"), data_dir=os.path.join(mount, "palace"))
        filler = os.path.join(mount, "filler")
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k", "count=1000"], capture_output=True)
        statuses = [asyncio.run(stream_once(proxy.port, f"full-{i}", chunks=50, delay_ms=0)) for i in range(20)]
        assert all(complete for _, complete, _ in statuses), "calls must go through while capture fails"
        assert wait_until(lambda: "CAPTURE FAILING" in proxy.output, timeout=5), proxy.output[-2000:]
        assert "Not recorded" in proxy.output or "capture failing" in proxy.output
        os.remove(filler)
        assert asyncio.run(stream_once(proxy.port, "after-free", chunks=5, delay_ms=0))[1]
        assert wait_until(lambda: "capture resumed" in proxy.output, timeout=5), proxy.output[-2000:]
        records = by_request_id(dump_exchanges(moonpalace_bin, proxy.data_dir))
        assert records["after-free"]["end"] is not None
    finally:
        subprocess.run(["umount", "-l", mount])
        shutil.rmtree(mount, ignore_errors=True)
