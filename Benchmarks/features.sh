#!/usr/bin/env bash
# Traffic-features benchmark (issue 7): merge cost per chunk and repeat-detector cost per token (thread CPU ns,
# best of 5), then proxy throughput with --force-stream --detect-repeat ON vs OFF, measured in the same run on the
# same mock, alternating OFF/ON three times and reporting medians. Budget: the features cost ≤ 20 % of throughput.
# Usage: MOONPALACE_BIN=.build/release/moonpalace bash Benchmarks/features.sh   (DURATION=5 CONNECTIONS=16 ROUNDS=3)
set -euo pipefail
BIN=${MOONPALACE_BIN:?set MOONPALACE_BIN to the release binary}
DURATION=${DURATION:-5}
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
REPEAT=$(awk '/repeat_ns_per_token/{print $2}' "$WORK/micro")

MOCK_PORT=$(free_port); OFF_PORT=$(free_port); ON_PORT=$(free_port)
"$BIN" mock --port "$MOCK_PORT" >"$WORK/mock.out" 2>&1 & PIDS+=($!)
wait_port "$MOCK_PORT"
"$BIN" start --port "$OFF_PORT" --endpoint "http://127.0.0.1:$MOCK_PORT" --data-dir "$WORK/off" 2>"$WORK/off.err" & PIDS+=($!)
"$BIN" start --port "$ON_PORT" --endpoint "http://127.0.0.1:$MOCK_PORT" --data-dir "$WORK/on" \
  --force-stream --detect-repeat 2>"$WORK/on.err" & PIDS+=($!)
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

rps() { # script port → requests/s (warns on non-2xx)
  wrk -t2 -c"$CONNS" -d"$DURATION"s -s "$1" "http://127.0.0.1:$2/v1/chat/completions" >"$WORK/wrk.out" 2>&1
  grep -q "Non-2xx" "$WORK/wrk.out" && echo "WARNING: non-2xx responses: $(grep Non-2xx "$WORK/wrk.out")" >&2
  awk '/Requests\/sec/{print $2}' "$WORK/wrk.out"
}
median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

rps "$WORK/chat.lua" "$OFF_PORT" >/dev/null; rps "$WORK/chat.lua" "$ON_PORT" >/dev/null   # warm-up
for kind in chat stream; do
  OFF=(); ON=()
  for _ in $(seq 1 "$ROUNDS"); do
    OFF+=("$(rps "$WORK/$kind.lua" "$OFF_PORT")")
    ON+=("$(rps "$WORK/$kind.lua" "$ON_PORT")")
  done
  M_OFF=$(median "${OFF[@]}"); M_ON=$(median "${ON[@]}")
  python3 - "$kind" "$M_OFF" "$M_ON" "${OFF[*]}" "${ON[*]}" <<'PY'
import sys
kind, off, on, offs, ons = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
cost = (1 - on / off) * 100
what = {"chat": "non-stream chat (ON: forced upstream stream, merged back to JSON)",
        "stream": "stream chat, 50 chunks (ON: repeat watch on every chunk)"}[kind]
print(f"== {what}")
print(f"   OFF {off:9.1f} req/s  (runs: {offs})")
print(f"   ON  {on:9.1f} req/s  (runs: {ons})")
print(f"   features cost {cost:5.1f} % of throughput   budget <= 20 %   {'OK' if cost <= 20 else 'OVER BUDGET'}")
PY
done
echo "== budgets: merge ${MERGE} ns/chunk, repeat detector ${REPEAT} ns/token (reported; see README 'Traffic features')"
