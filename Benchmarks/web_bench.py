"""Timings for Benchmarks/web.sh (stdlib only): server time of the admin's pages (the Server-Timing header the
admin sets, plus wall time as curl would see it), and the live tail (exchange end → row on /palace/events).

usage: web_bench.py ROOT PROXY_BASE_V1 MAX_ID [ROUNDS]"""
import http.client
import json
import random
import statistics
import sys
import threading
import time
import urllib.parse

root, proxy, max_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 20
u = urllib.parse.urlsplit(root)


def get(path):
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    wall = (time.perf_counter() - t0) * 1000
    timing = r.getheader("Server-Timing") or ""
    conn.close()
    assert r.status == 200, f"{path}: {r.status} {body[:300]!r}"
    server = float(timing.split("dur=")[1]) if "dur=" in timing else float("nan")
    return server, wall, len(body)


def measure(label, paths, budget=None):
    server, wall, size = [], [], []
    get(paths[0])                                      # warm: first touch of pages and the SQLite cache
    for i in range(rounds):
        s, w, n = get(paths[i % len(paths)])
        server.append(s), wall.append(w), size.append(n)
    med = statistics.median(server)
    verdict = "" if budget is None else (f"   budget ≤ {budget} ms: {'OK' if med <= budget else 'OVER'}")
    print(f"{label:<44} server median {med:7.1f} ms  p90 {sorted(server)[int(0.9 * (len(server) - 1))]:7.1f} ms"
          f"  wall median {statistics.median(wall):7.1f} ms  {statistics.median(size) / 1024:6.1f} KiB{verdict}")


rng = random.Random(7)
ids = [rng.randint(1, max_id) for _ in range(rounds)]
measure("list page (newest 50)", ["/palace/"], 100)
measure("list page, deep keyset page (before=random)", [f"/palace/?before={i}" for i in ids], 100)
measure("list page, model filter", ["/palace/?model=moonshot-v1-8k", "/palace/?model=kimi-latest"], 100)
measure("list page, status=error", ["/palace/?status=error"], 100)
measure("list page, predicate on a JSON path", ["/palace/?" + urllib.parse.urlencode(
    {"p": "request_body.messages.0.role == 'system'"})], 100)
measure("list page, full-text search", ["/palace/?q=%E6%9C%88%E4%B9%8B%E6%9A%97%E9%9D%A2", "/palace/?q=linked%20list"], 100)
measure("exchange page (random id)", [f"/palace/x/{i}" for i in ids], 50)
# Stats (no budget): each distinct range is one pass over the index; the same range again, with nothing indexed
# since (this bench sends no traffic before the live tail), is answered from the stats cache.
measure("stats page, uncached (since=30d…49d: 1 pass)", [f"/palace/stats?since={30 + i % 20}d" for i in range(rounds)])
measure("stats page, same range again (cache)", ["/palace/stats"])

# Live tail: how long after an exchange's last byte its row (complete) is pushed on /palace/events.
pu = urllib.parse.urlsplit(proxy)
arrived, ended = {}, {}
stop = threading.Event()


def listen():
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("GET", "/palace/events")
    r = conn.getresponse()
    event, data = None, ""
    while not stop.is_set():
        line = r.readline().decode()
        if not line:
            return
        line = line.rstrip("\n")
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif line == "":
            if event == "row":
                msg = json.loads(data)
                if "inflight" not in msg["html"]:          # the row of the ended exchange, not its in-flight row
                    arrived.setdefault(msg["id"], time.perf_counter())
            event, data = None, ""


threading.Thread(target=listen, daemon=True).start()
time.sleep(1.0)
lags = []
for i in range(10):
    conn = http.client.HTTPConnection(pu.hostname, pu.port, timeout=60)
    body = json.dumps({"model": "moonshot-v1-8k", "messages": [{"role": "user", "content": f"live tail {i}"}]})
    conn.request("POST", pu.path + "/chat/completions", body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    done = time.perf_counter()
    conn.close()
    deadline = done + 10
    while time.perf_counter() < deadline:
        new = [k for k in arrived if k > max_id + i]
        if new:
            lags.append(max(0.0, (arrived[min(new)] - done) * 1000))
            break
        time.sleep(0.005)
    else:
        lags.append(float("inf"))
    time.sleep(0.3)
stop.set()
print(f"{'live tail (exchange end → row pushed)':<44} median {statistics.median(lags):7.1f} ms  max {max(lags):7.1f} ms"
      f"   budget ≤ 1000 ms: {'OK' if max(lags) <= 1000 else 'OVER'}")
