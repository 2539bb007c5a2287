#!/usr/bin/env bash
# Traffic-features benchmark (issue 7). Budget: "the features cost <= 20 % of throughput".
#
# 1. Per-chunk costs (thread CPU ns, best of 5): merge per chunk, the whole stream tap per chunk (SSE framing, merge,
#    facts, repeat watch), repeat detector per token, and one force-stream exchange's feature work per stream
#    (request rewrite, a mock-shaped 50-chunk stream through the tap with the repeat watch, summary, client JSON).
# 2. Throughput, all in the same run on the same mock, workloads alternated ROUNDS times, medians reported:
#      mock-json / mock-sse   the mock alone: non-stream answer vs a 50-chunk stream (the upstream's own cost)
#      off-json  / on-json    non-stream clients through a plain proxy (OFF) vs --force-stream --detect-repeat (ON)
#      off-sse   / on-sse     stream clients through OFF vs ON
#    For each, wall-clock requests/s and the CPU time per request of the proxy and of the mock (utime+stime from
#    /proc/PID/stat; load-independent, unlike wall-clock figures on a shared 2-core machine).
#    A proxy also burns CPU when idle (the index tailer's polling): that cost is per second, not per request, so it
#    weighs more on a workload served at fewer requests/s. Each proxy's idle CPU rate is measured (IDLE seconds
#    without traffic, before and after the rounds) and the "net" figures below take it out of every run.
#    Reported:
#      (a) stream clients, ON vs OFF: what the features cost per se (repeat watch on every chunk, decoded relay).
#      (b) non-stream clients, ON vs OFF, literally: includes the upstream streaming 50 chunks instead of one JSON.
#      (c) (b) with the upstream's extra cost factored out: wall-clock (per-request time of the direct mock stream
#          minus the direct mock JSON removed from ON), and the CPU model (proxy + mock CPU per request, the mock
#          charged its JSON cost in both).
#      (d) forced JSON (ON, non-stream client) vs the same upstream stream relayed as a stream (OFF).
# With COMPARE_BIN=<another build> the same proxies also run from that binary, alternated in the same rounds, and the
# report ends with its figures beside ours (an A/B under the same load; the per-chunk costs are both printed).
# Usage: MOONPALACE_BIN=.build/release/moonpalace bash Benchmarks/features.sh   (DURATION=4 CONNECTIONS=16 ROUNDS=3)
set -euo pipefail
BIN=${MOONPALACE_BIN:?set MOONPALACE_BIN to the release binary}
DURATION=${DURATION:-4}
CONNS=${CONNECTIONS:-16}
ROUNDS=${ROUNDS:-3}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened"; exit 1; }

echo "== per-chunk costs (moonpalace _bench-features, 20,000 chunks)"
"$BIN" _bench-features | tee "$WORK/micro"
MERGE=$(awk '/merge_ns_per_chunk/{print $2}' "$WORK/micro")
TAP=$(awk '/tap_ns_per_chunk/{print $2}' "$WORK/micro")
REPEAT=$(awk '/repeat_ns_per_token/{print $2}' "$WORK/micro")
FORCED=$(awk '/forced_ns_per_stream/{print $2}' "$WORK/micro")

MOCK_PORT=$(free_port); OFF_PORT=$(free_port); ON_PORT=$(free_port)
"$BIN" mock --port "$MOCK_PORT" >"$WORK/mock.out" 2>&1 & MOCK_PID=$!; PIDS+=($MOCK_PID)
wait_port "$MOCK_PORT"
"$BIN" start --port "$OFF_PORT" --endpoint "http://127.0.0.1:$MOCK_PORT" --data-dir "$WORK/off" 2>"$WORK/off.err" & OFF_PID=$!; PIDS+=($OFF_PID)
"$BIN" start --port "$ON_PORT" --endpoint "http://127.0.0.1:$MOCK_PORT" --data-dir "$WORK/on" \
  --force-stream --detect-repeat 2>"$WORK/on.err" & ON_PID=$!; PIDS+=($ON_PID)
wait_port "$OFF_PORT"; wait_port "$ON_PORT"
if [ -n "${COMPARE_BIN:-}" ]; then
  echo "== per-chunk costs of COMPARE_BIN ($COMPARE_BIN)"
  "$COMPARE_BIN" _bench-features
  B_OFF_PORT=$(free_port); B_ON_PORT=$(free_port)
  "$COMPARE_BIN" start --port "$B_OFF_PORT" --endpoint "http://127.0.0.1:$MOCK_PORT" --data-dir "$WORK/b-off" 2>"$WORK/b-off.err" & B_OFF_PID=$!; PIDS+=($B_OFF_PID)
  "$COMPARE_BIN" start --port "$B_ON_PORT" --endpoint "http://127.0.0.1:$MOCK_PORT" --data-dir "$WORK/b-on" \
    --force-stream --detect-repeat 2>"$WORK/b-on.err" & B_ON_PID=$!; PIDS+=($B_ON_PID)
  wait_port "$B_OFF_PORT"; wait_port "$B_ON_PORT"
fi

cat >"$WORK/json.lua" <<'EOF2'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Mock-Chunks"] = "50"
wrk.body = '{"model":"moonshot-v1-8k","messages":[{"role":"user","content":"Explain the phases of the moon."}]}'
EOF2
cat >"$WORK/sse.lua" <<'EOF2'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Mock-Chunks"] = "50"
wrk.body = '{"model":"moonshot-v1-8k","stream":true,"messages":[{"role":"user","content":"Explain the phases of the moon."}]}'
EOF2

cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }   # utime + stime (clock ticks)
TCK=$(getconf CLK_TCK)
now_ms() { date +%s%3N; }
IDLE=${IDLE:-3}
declare -A IDLE_TICKS=()   # proxy pid → idle ticks per second × 1000
measure_idle() { # pids… → adds to IDLE_TICKS (averaged over the calls)
  local -A before=()
  local p t0 t1
  for p in "$@"; do before[$p]=$(cpu_ticks "$p"); done
  t0=$(now_ms); sleep "$IDLE"; t1=$(now_ms)
  for p in "$@"; do
    IDLE_TICKS[$p]=$(( ${IDLE_TICKS[$p]:-0} + ($(cpu_ticks "$p") - ${before[$p]}) * 1000000 / (t1 - t0) ))
  done
}
run() { # name script port proxy-pid(or -) → appends "rps proxy-us mock-us elapsed-ms proxy-pid" to $WORK/<name>
  local pb=0 pa=0 mb ma n t0 t1
  [ "$4" != "-" ] && pb=$(cpu_ticks "$4")
  mb=$(cpu_ticks "$MOCK_PID")
  t0=$(now_ms)
  wrk -t2 -c"$CONNS" -d"$DURATION"s -s "$2" "http://127.0.0.1:$3/v1/chat/completions" >"$WORK/wrk.out" 2>&1
  t1=$(now_ms)
  ma=$(cpu_ticks "$MOCK_PID")
  [ "$4" != "-" ] && pa=$(cpu_ticks "$4")
  if grep -q "Non-2xx" "$WORK/wrk.out"; then echo "WARNING: $1: $(grep Non-2xx "$WORK/wrk.out")" >&2; fi
  n=$(awk '/requests in/{print $1}' "$WORK/wrk.out"); n=$(( n > 0 ? n : 1 ))
  echo "$(awk '/Requests\/sec/{print $2}' "$WORK/wrk.out") $(( (pa - pb) * 1000000 / TCK / n )) $(( (ma - mb) * 1000000 / TCK / n )) $(( t1 - t0 )) $n $([ "$4" = "-" ] && echo -1 || echo "$4")" >>"$WORK/$1"
}

run warm "$WORK/json.lua" "$OFF_PORT" "$OFF_PID"; run warm "$WORK/json.lua" "$ON_PORT" "$ON_PID"
run warm "$WORK/sse.lua" "$OFF_PORT" "$OFF_PID"; run warm "$WORK/sse.lua" "$ON_PORT" "$ON_PID"
PROXIES=("$OFF_PID" "$ON_PID"); [ -n "${COMPARE_BIN:-}" ] && PROXIES+=("$B_OFF_PID" "$B_ON_PID")
sleep 1; measure_idle "${PROXIES[@]}"
ours() {
  run off-json "$WORK/json.lua" "$OFF_PORT" "$OFF_PID"; run on-json "$WORK/json.lua" "$ON_PORT" "$ON_PID"
  run off-sse "$WORK/sse.lua" "$OFF_PORT" "$OFF_PID";   run on-sse "$WORK/sse.lua" "$ON_PORT" "$ON_PID"
}
theirs() {
  run b-off-json "$WORK/json.lua" "$B_OFF_PORT" "$B_OFF_PID"; run b-on-json "$WORK/json.lua" "$B_ON_PORT" "$B_ON_PID"
  run b-off-sse "$WORK/sse.lua" "$B_OFF_PORT" "$B_OFF_PID";   run b-on-sse "$WORK/sse.lua" "$B_ON_PORT" "$B_ON_PID"
}
for r in $(seq 1 "$ROUNDS"); do
  echo "   round $r/$ROUNDS"
  run mock-json "$WORK/json.lua" "$MOCK_PORT" -;   run mock-sse "$WORK/sse.lua" "$MOCK_PORT" -
  # With COMPARE_BIN the two builds take turns going first (a fixed order biased the A/B: the second build's runs
  # came out ~10 % dearer even for identical code).
  if [ -z "${COMPARE_BIN:-}" ]; then ours
  elif [ $((r % 2)) -eq 1 ]; then ours; theirs
  else theirs; ours
  fi
done
sleep 1; measure_idle "${PROXIES[@]}"
for p in "${PROXIES[@]}"; do echo "$p $(( ${IDLE_TICKS[$p]} / 2 ))"; done >"$WORK/idle"

python3 - "$WORK" "$MERGE" "$TAP" "$REPEAT" "${FORCED:-?}" <<'PY'
import statistics, sys, os
work = sys.argv[1]
tck = os.sysconf("SC_CLK_TCK")
idle = {int(l.split()[0]): int(l.split()[1]) / 1000 for l in open(os.path.join(work, "idle")) if l.strip()}  # ticks/s
def load(name):
    rows = [list(map(float, l.split())) for l in open(os.path.join(work, name)) if l.strip()]
    med = lambda i: statistics.median(r[i] for r in rows)
    # Net: the run's proxy CPU minus what the proxy burns idle over the run's duration, per request.
    net = [max(0.0, r[1] - idle.get(int(r[5]), 0) * r[3] / 1000 / tck * 1e6 / r[4]) if len(r) > 5 and r[5] >= 0 else r[1]
           for r in rows]
    return {"rps": med(0), "proxy": med(1), "mock": med(2), "net": statistics.median(net), "runs": [r[0] for r in rows]}
m = {k: load(k) for k in ["mock-json", "mock-sse", "off-json", "on-json", "off-sse", "on-sse"]}
print("== medians (req/s; CPU us per request of the proxy and of the mock)")
for k, v in m.items():
    print(f"   {k:9s} {v['rps']:8.0f} req/s  proxy {v['proxy']:5.0f} us  mock {v['mock']:5.0f} us   runs: "
          + " ".join(f"{x:.0f}" for x in v["runs"]))
def verdict(c): return "OK" if c <= 20 else "OVER BUDGET"
def line(title, off, on):
    wall = (1 - m[on]["rps"] / m[off]["rps"]) * 100
    cpu = (1 - m[off]["proxy"] / m[on]["proxy"]) * 100 if m[on]["proxy"] else 0
    print(f"== {title}")
    print(f"   throughput cost {wall:5.1f} % (wall), proxy CPU {m[off]['proxy']:.0f} -> {m[on]['proxy']:.0f} us/request "
          f"({cpu:5.1f} % of throughput if the proxy's CPU were the bottleneck)   budget <= 20 %: {verdict(min(wall, cpu))}")
    return wall, cpu
line("(a) stream clients, features ON vs OFF (repeat watch + merge per chunk: the features per se)", "off-sse", "on-sse")
wall_b, _ = line("(b) non-stream clients, --force-stream ON vs OFF, literally (upstream streams 50 chunks instead of one JSON)",
                 "off-json", "on-json")
mock_extra = 1 / m["mock-sse"]["rps"] - 1 / m["mock-json"]["rps"]
adj = 1 / (1 / m["on-json"]["rps"] - mock_extra)
wall_c = (1 - adj / m["off-json"]["rps"]) * 100
cpu_off = m["off-json"]["proxy"] + m["off-json"]["mock"]
cpu_on_lit = m["on-json"]["proxy"] + m["on-json"]["mock"]
cpu_on_fact = m["on-json"]["proxy"] + m["off-json"]["mock"]
print("== (c) (b) with the upstream's own streaming cost factored out")
print(f"   mock alone: {m['mock-json']['rps']:.0f} req/s JSON vs {m['mock-sse']['rps']:.0f} req/s stream "
      f"(+{mock_extra * 1e6:.0f} us per request at {os.environ.get('CONNECTIONS', '16')} connections)")
print(f"   wall: ON {m['on-json']['rps']:.0f} req/s -> {adj:.0f} req/s without the upstream's extra; cost {wall_c:5.1f} %")
print(f"   CPU model (proxy + mock us/request): OFF {cpu_off:.0f}, ON {cpu_on_lit:.0f} literally "
      f"({(1 - cpu_off / cpu_on_lit) * 100:5.1f} %), ON with the mock's JSON cost {cpu_on_fact:.0f} "
      f"({(1 - cpu_off / cpu_on_fact) * 100:5.1f} %)   budget <= 20 %: {verdict(min(wall_c, (1 - cpu_off / cpu_on_fact) * 100))}")
line("(d) forced JSON (ON, non-stream client) vs the same upstream stream relayed (OFF, stream client)", "off-sse", "on-json")
print("== net of the proxies' idle CPU (" + ", ".join(f"{v * 1e6 / tck / 1e3:.0f} ms/s" for v in idle.values())
      + " idle; per second, not per request)")
for title, off, on in [("(a) stream ON vs OFF", "off-sse", "on-sse"), ("(b) non-stream ON vs OFF", "off-json", "on-json"),
                       ("(d) forced vs relayed", "off-sse", "on-json")]:
    print(f"   {title}: proxy CPU {m[off]['net']:.0f} -> {m[on]['net']:.0f} us/request net "
          f"({(1 - m[off]['net'] / m[on]['net']) * 100:5.1f} %)")
net_off = m["off-json"]["net"] + m["off-json"]["mock"]
net_on = m["on-json"]["net"] + m["off-json"]["mock"]
print(f"   (c) CPU model net (proxy net + mock's JSON cost): OFF {net_off:.0f}, ON {net_on:.0f} "
      f"({(1 - net_off / net_on) * 100:5.1f} %)   budget <= 20 %: {verdict((1 - net_off / net_on) * 100)}")
print(f"== per-chunk: merge {sys.argv[2]} ns/chunk, tap {sys.argv[3]} ns/chunk, repeat detector {sys.argv[4]} ns/token; "
      f"force-stream feature work {sys.argv[5]} ns per 50-chunk stream")
if os.path.exists(os.path.join(work, "b-on-json")):
    b = {k: load("b-" + k) for k in ["off-json", "on-json", "off-sse", "on-sse"]}
    print("== A/B in the same rounds: this build vs COMPARE_BIN (req/s; proxy CPU us per request)")
    for k, v in b.items():
        print(f"   {k:9s} {m[k]['rps']:7.0f} vs {v['rps']:7.0f} req/s   proxy {m[k]['proxy']:5.0f} vs {v['proxy']:5.0f} us"
              f"   net {m[k]['net']:5.0f} vs {v['net']:5.0f} us")
    for title, off, on in [("(a) stream ON vs OFF", "off-sse", "on-sse"), ("(b) non-stream ON vs OFF", "off-json", "on-json"),
                           ("(d) forced vs relayed", "off-sse", "on-json")]:
        ours = (1 - m[off]["proxy"] / m[on]["proxy"]) * 100
        theirs = (1 - b[off]["proxy"] / b[on]["proxy"]) * 100
        ours_net = (1 - m[off]["net"] / m[on]["net"]) * 100
        theirs_net = (1 - b[off]["net"] / b[on]["net"]) * 100
        print(f"   {title}: proxy-CPU cost {ours:5.1f} % vs {theirs:5.1f} % (net {ours_net:5.1f} % vs {theirs_net:5.1f} %); wall {(1 - m[on]['rps'] / m[off]['rps']) * 100:5.1f} % vs "
              f"{(1 - b[on]['rps'] / b[off]['rps']) * 100:5.1f} %")
PY
