#!/usr/bin/env bash
# Web admin benchmark (issue 8): on a history of N synthetic exchanges (PalaceIndex's TrafficGenerator through the
# real LogWriter, index built with `index rebuild`), run `moonpalace start --endpoint mock` (the admin mounted at
# /palace/) and measure the server time of the list page (≤ 100 ms), the exchange page (≤ 50 ms), and the live tail
# (an exchange's row pushed on /palace/events ≤ 1 s after it ends).
# MOONPALACE_BIN = release binary (make bench). WEB_BENCH_N (default 200000; 1000000 is the issue's size) sets the
# history; WEB_BENCH_DIR keeps the data between runs (generating and indexing are the slow part).
set -euo pipefail
BIN=${MOONPALACE_BIN:?set MOONPALACE_BIN to the moonpalace binary}
N=${WEB_BENCH_N:-200000}
DIR=${WEB_BENCH_DIR:-$(mktemp -d /tmp/moonpalace-web-bench-XXXXXX)}
KEEP=${WEB_BENCH_DIR:+1}
HERE=$(cd "$(dirname "$0")" && pwd)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  [ -n "${KEEP:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

echo "web bench: $N exchanges in $DIR"
have=$("$BIN" index status --json --data-dir "$DIR/data" 2>/dev/null | sed -n 's/.*"log_next_sequence":\([0-9]*\).*/\1/p' || true)
if [ "${have:-0}" -lt $((2 * N)) ]; then
  rm -rf "$DIR/data"
  t0=$(now); "$BIN" index _generate "$N" --data-dir "$DIR/data" >/dev/null; t1=$(now)
  echo "generate: $(secs "$t0" "$t1") s"
  t0=$(now); "$BIN" index rebuild --data-dir "$DIR/data" >/dev/null; t1=$(now)
  echo "index rebuild: $(secs "$t0" "$t1") s"
fi
max_id=$("$BIN" list -n 1 --json --data-dir "$DIR/data" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
echo "history: $max_id exchanges (ids 1-$max_id), log $(du -sh "$DIR/data/log" | cut -f1), index $(du -sh "$DIR/data/index.sqlite" | cut -f1)"

LOG="$DIR/start.log"
NO_COLOR=1 "$BIN" start --endpoint mock --port 0 --data-dir "$DIR/data" >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 1 600); do
  grep -q "MoonPalace web admin =>" "$LOG" && break
  kill -0 "$PID" 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.1
done
port=$(sed -n 's/.*web admin => http:\/\/127\.0\.0\.1:\([0-9]*\)\/palace\/.*/\1/p' "$LOG" | head -1)
[ -n "$port" ] || { echo "no admin URL in:"; cat "$LOG"; exit 1; }
python3 "$HERE/web_bench.py" "http://127.0.0.1:$port" "http://127.0.0.1:$port/v1" "$max_id" "${WEB_BENCH_ROUNDS:-20}"
