#!/usr/bin/env bash
# Proxy benchmark: the mock direct vs through `moonpalace start`, in the same run, on this machine.
# Prints each figure beside its direct baseline and the issue's budget. Needs wrk and python3.
# Usage: MOONPALACE_BIN=.build/release/moonpalace bash Benchmarks/proxy.sh   (DURATION=10 CONNECTIONS=16)
set -euo pipefail
BIN=${MOONPALACE_BIN:?set MOONPALACE_BIN to the release binary}
DURATION=${DURATION:-10}
CONNS=${CONNECTIONS:-16}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened"; exit 1; }

MOCK_PORT=$(free_port); PROXY_PORT=$(free_port)
"$BIN" mock --port "$MOCK_PORT" >"$WORK/mock.out" 2>&1 & PIDS+=($!)
wait_port "$MOCK_PORT"
"$BIN" start --port "$PROXY_PORT" --endpoint "http://127.0.0.1:$MOCK_PORT" --data-dir "$WORK/data" 2>"$WORK/proxy.err" & PROXY_PID=$!; PIDS+=($PROXY_PID)
wait_port "$PROXY_PORT"
DIRECT="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"
PROXIED="http://127.0.0.1:$PROXY_PORT/v1/chat/completions"

# A ~2 KB chat request, as in the issue's peer measurements.
CONTENT=$(python3 -c 'print(("Explain the phases of the moon and why the far side is not dark. " * 30)[:1900])')
cat >"$WORK/chat.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"moonshot-v1-8k","max_tokens":64,"messages":[{"role":"user","content":"$CONTENT"}]}'
EOF
cat >"$WORK/stream.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Mock-Chunks"] = "50"
wrk.body = '{"model":"moonshot-v1-8k","stream":true,"messages":[{"role":"user","content":"$CONTENT"}]}'
EOF

# wrk → "requests/s p50_ms p99_ms requests"
run_wrk() { # script url conns duration
  local threads=2; [ "$3" -lt 2 ] && threads=1
  wrk -t"$threads" -c"$3" -d"$4"s --latency -s "$1" "$2" >"$WORK/wrk.out" 2>&1
  python3 - "$WORK/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(v, u): return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
lat = dict((p, ms(v, u)) for p, v, u in re.findall(r"\s(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)", t))
n = int(re.search(r"(\d+) requests in", t).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if errs: print("WARNING: non-2xx responses:", errs.group(1), file=sys.stderr)
print(rps, lat["50"], lat["99"], n)
PY
}

start_rss_sampler() { # pid → samples VmRSS every 100 ms into $WORK/peak until stop_rss_sampler
  echo 0 >"$WORK/peak"
  ( peak=0; while kill -0 "$1" 2>/dev/null; do r=$(awk '/VmRSS/{print $2}' /proc/"$1"/status 2>/dev/null || echo 0); if [ "${r:-0}" -gt "$peak" ]; then peak=$r; echo "$peak" >"$WORK/peak"; fi; sleep 0.1; done ) &
  SAMPLER=$!
}
stop_rss_sampler() { kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; cat "$WORK/peak"; }

log_bytes() { du -sb "$WORK/data/log" | cut -f1; }
# CPU time (user+system) of a process in microseconds, from /proc/PID/stat (load-independent cost per request).
cpu_us() { python3 -c 'import os,sys; f=open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")",1)[1].split(); print(int((int(f[11])+int(f[12]))*1e6/os.sysconf("SC_CLK_TCK")))' "$1"; }
MOCK_PID=${PIDS[0]}

echo "proxy benchmark: wrk -t2 -c$CONNS -d${DURATION}s, 2 KB chat requests, mock on :$MOCK_PORT, proxy on :$PROXY_PORT"
run_wrk "$WORK/chat.lua" "$PROXIED" 4 2 >/dev/null   # warm-up (connections, caches)
BEFORE=$(log_bytes)
read -r D_RPS D_P50 D_P99 _ <<<"$(run_wrk "$WORK/chat.lua" "$DIRECT" "$CONNS" "$DURATION")"
start_rss_sampler "$PROXY_PID"
C0=$(cpu_us "$PROXY_PID"); M0=$(cpu_us "$MOCK_PID")
read -r P_RPS P_P50 P_P99 P_N <<<"$(run_wrk "$WORK/chat.lua" "$PROXIED" "$CONNS" "$DURATION")"
RSS_PEAK=$(stop_rss_sampler)
sleep 0.5   # the index tailer's last batch of the run counts too
C1=$(cpu_us "$PROXY_PID"); M1=$(cpu_us "$MOCK_PID")
AFTER=$(log_bytes)

read -r DS_RPS _ _ _ <<<"$(run_wrk "$WORK/stream.lua" "$DIRECT" "$CONNS" "$DURATION")"
start_rss_sampler "$PROXY_PID"
C2=$(cpu_us "$PROXY_PID"); M2=$(cpu_us "$MOCK_PID")
read -r PS_RPS _ _ PS_N <<<"$(run_wrk "$WORK/stream.lua" "$PROXIED" "$CONNS" "$DURATION")"
RSS_STREAM=$(stop_rss_sampler)
sleep 0.5
C3=$(cpu_us "$PROXY_PID"); M3=$(cpu_us "$MOCK_PID")

# One at a time: alternating direct/proxied pairs of short runs, so a change in the machine's load hits both sides
# of a pair alike; the added latency is the median of the pairs' differences.
PAIRS=${ONE_AT_A_TIME_PAIRS:-5}
PAIR_SECONDS=$(( DURATION * 2 / PAIRS )); [ "$PAIR_SECONDS" -lt 1 ] && PAIR_SECONDS=1
: >"$WORK/pairs"
for _ in $(seq 1 "$PAIRS"); do
  read -r _ D1 _ _ <<<"$(run_wrk "$WORK/chat.lua" "$DIRECT" 1 "$PAIR_SECONDS")"
  read -r _ P1 _ _ <<<"$(run_wrk "$WORK/chat.lua" "$PROXIED" 1 "$PAIR_SECONDS")"
  echo "$D1 $P1" >>"$WORK/pairs"
done
read -r D1_P50 P1_P50 <<<"$(python3 - "$WORK/pairs" <<'PY'
import statistics, sys
pairs = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
d = statistics.median(p[0] for p in pairs)
print(d, d + statistics.median(p[1] - p[0] for p in pairs))
PY
)"

# Paced stream: 2 ms between chunks; first byte, direct vs proxied; per-event lag = arrival - the event's own send
# stamp (X-Mock-Timestamps: the mock's `: t=` comment, CLOCK_REALTIME when it wrote the event), so the mock's pacing
# drift cancels out; the added lag is the proxied lag minus the direct lag at p50 and at p99 over all events
# (20 alternating direct/proxied calls); record-on-disk delay.
python3 - "$MOCK_PORT" "$PROXY_PORT" "$WORK/data/log" >"$WORK/paced.txt" <<'PY'
import os, socket, sys, time, statistics
mock, proxy, logdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
body = b'{"model":"moonshot-v1-8k","stream":true,"messages":[{"role":"user","content":"hi"}]}'
def call(port, rid):
    s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
           f"X-Mock-Chunks: 50\r\nX-Mock-Chunk-Delay-Ms: 2\r\nX-Mock-Timestamps: 1\r\nX-Request-Id: {rid}\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode()
    t0 = time.perf_counter(); s.sendall(req + body)
    lags, buf, first = [], b"", None
    while True:
        piece = s.recv(65536)
        if not piece: break
        now, wall = time.perf_counter(), time.time()
        if first is None and b"data:" in buf + piece: first = now - t0
        buf += piece
        while b"\n\n" in buf:                      # an event is complete: its lag from its own stamp
            event, buf = buf.split(b"\n\n", 1)
            at = event.find(b": t=")
            if at >= 0: lags.append(wall - float(event[at + 4:event.index(b"\n", at)]))
    s.close()
    return first, lags, time.perf_counter()
def logsize():
    return sum(os.path.getsize(os.path.join(logdir, f)) for f in os.listdir(logdir) if not f.startswith("LOCK"))
def pct(values, q): return sorted(values)[min(len(values) - 1, int(len(values) * q))]
fd, fp, lag_d, lag_p, delays = [], [], [], [], []
for i in range(20):
    f1, l1, _ = call(mock, f"d{i}")
    f2, l2, end = call(proxy, f"p{i}")
    at_end = logsize()
    # the end record is written before the response's last bytes: the log must not grow after the response ended
    t = time.perf_counter(); grew = None
    while time.perf_counter() - t < 0.2:
        if logsize() != at_end: grew = time.perf_counter() - end; break
        time.sleep(0.001)
    delays.append(0.0 if grew is None else grew)
    fd.append(f1); fp.append(f2)
    lag_d += l1; lag_p += l2
print(statistics.median(fd) * 1000, statistics.median(fp) * 1000,
      (pct(lag_p, 0.5) - pct(lag_d, 0.5)) * 1000, (pct(lag_p, 0.99) - pct(lag_d, 0.99)) * 1000, max(delays) * 1000,
      pct(lag_d, 0.5) * 1000, pct(lag_d, 0.99) * 1000)
PY
read -r FB_D FB_P GAP_P50 GAP_P99 REC_DELAY LAG_D50 LAG_D99 <"$WORK/paced.txt"

python3 - <<PY
d_rps, p_rps = $D_RPS, $P_RPS
ds, ps = $DS_RPS, $PS_RPS
d1, p1 = $D1_P50, $P1_P50
dp99, pp99 = $D_P99, $P_P99
rss = max($RSS_PEAK, $RSS_STREAM) / 1024
per1000 = ($AFTER - $BEFORE) * 1000 / max($P_N, 1) / 1024
def row(name, value, baseline, budget, ok):
    print(f"  {name:<38} {value:<26} {baseline:<28} budget {budget:<12} {'ok' if ok else 'OVER BUDGET'}")
print(f"  {'figure':<38} {'proxied':<26} {'baseline':<28}")
row("non-stream throughput", f"{p_rps:.0f} req/s = {p_rps/d_rps:.2f}x", f"direct {d_rps:.0f} req/s", ">= 0.4x", p_rps/d_rps >= 0.4)
row("stream (50 chunks) throughput", f"{ps:.0f} req/s = {ps/ds:.2f}x", f"direct {ds:.0f} req/s", ">= 0.5x", ps/ds >= 0.5)
row("added p50, one at a time", f"+{p1-d1:.3f} ms ({p1:.3f} ms)", f"direct p50 {d1:.3f} ms", "<= 0.15 ms", p1-d1 <= 0.15)
print(f"  (one at a time: median of {open('$WORK/pairs').read().count(chr(10))} alternating direct/proxied pairs; load average {open('/proc/loadavg').read().split()[0]})")
row("p99 under load", f"{pp99:.2f} ms = {pp99/dp99:.2f}x", f"direct p99 {dp99:.2f} ms", "<= 2x", pp99/dp99 <= 2)
row("paced first byte (2 ms/chunk)", f"{$FB_P:.2f} ms (+{$FB_P-$FB_D:.2f} ms)", f"direct {$FB_D:.2f} ms", "<= +1 ms", $FB_P-$FB_D <= 1)
row("per-event lag vs direct p50/p99", f"{$GAP_P50:+.3f} / {$GAP_P99:+.3f} ms", f"direct {$LAG_D50:.3f} / {$LAG_D99:.3f} ms", "<= 1 ms", $GAP_P99 <= 1)
row("peak RSS under load", f"{rss:.1f} MiB", "-", "<= 64 MiB", rss <= 64)
row("record on disk after response end", f"{$REC_DELAY:.1f} ms (max of 20)", "end record precedes last byte", "<= 100 ms", $REC_DELAY <= 100)
print(f"  CPU per request (user+sys, load-independent): non-stream proxy {($C1-$C0)/max($P_N,1):.0f} us vs mock {($M1-$M0)/max($P_N,1):.0f} us;"
      f" 50-chunk stream proxy {($C3-$C2)/max($PS_N,1):.0f} us vs mock {($M3-$M2)/max($PS_N,1):.0f} us")
row("log bytes per 1,000 exchanges", f"{per1000:.0f} KiB", f"{$P_N} exchanges", "<= 800 KiB", per1000 <= 800)
PY
