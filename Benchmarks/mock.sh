#!/usr/bin/env bash
# Mock server throughput and memory (issue 3 budgets): non-stream small chat ≥ 15,000 req/s, 50-chunk streams
# ≥ 2,500 req/s, both with 16 connections (wrk), and ≤ 30 MiB peak RSS. Prints figures; not a timed test.
# A trivial route (GET /v1/users/me/balance) is measured too: it is the framework's ceiling on this machine now,
# so a busy machine can be told apart from a slow mock. Load average is printed for the same reason.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MOONPALACE_BIN:-.build/release/moonpalace}
DURATION=${MOCK_BENCH_SECONDS:-10}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }

out=$(mktemp)
"$BIN" mock --port 0 >"$out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q '^http://' "$out" && break; sleep 0.05; done
url=$(grep -m1 '^http://' "$out") || { echo "mock did not start:"; cat "$out"; exit 1; }

measure() {  # $1 = label, $2 = path, rest = env for the Lua script (none = plain GET); prints req/s to fd 3
  local label=$1 path=$2; shift 2
  local script=()
  [ $# -gt 0 ] && script=(-s Benchmarks/mock_chat.lua)
  env "$@" wrk -t2 -c16 -d2s "${script[@]}" "$url$path" >/dev/null   # warm-up
  local report rps p99 errors
  report=$(env "$@" wrk -t2 -c16 -d"${DURATION}s" --latency "${script[@]}" "$url$path")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$report")
  p99=$(awk '$1=="99%" {print $2}' <<<"$report")
  errors=$(grep -E 'Non-2xx|Socket errors' <<<"$report" | tr '\n' ' ' || true)
  printf '%-32s %10s req/s   p99 %-9s %s\n' "$label" "$rps" "$p99" "$errors"
  echo "$rps" >&3
}

echo "mock: $url   wrk -t2 -c16 -d${DURATION}s   $(nproc) cores   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
exec 3>"$out.rps"
measure "trivial route (framework ceiling)" /users/me/balance
measure "non-stream small chat" /chat/completions MOCK_STREAM=0
measure "stream, 50 chunks" /chat/completions MOCK_STREAM=1 MOCK_CHUNKS=50
exec 3>&-
mapfile -t rps <"$out.rps"; rm -f "$out.rps"
# Resident now (after the load), split the way smaps_rollup counts it: Pss charges shared pages to each sharer.
rollup() { awk -v k="$1:" '$1==k {print $2}' /proc/$pid/smaps_rollup; }
rss_kb=$(rollup Rss); pss_kb=$(rollup Pss)
priv_kb=$(( $(rollup Private_Clean) + $(rollup Private_Dirty) ))
printf 'resident now: Rss %.1f MiB, Pss %.1f MiB, Private %.1f MiB (smaps_rollup); threads %s\n' \
  "$(bc -l <<<"$rss_kb/1024")" "$(bc -l <<<"$pss_kb/1024")" "$(bc -l <<<"$priv_kb/1024")" \
  "$(awk '/^Threads/ {print $2}' /proc/$pid/status)"
hwm_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
anon_kb=$(awk '/RssAnon/ {print $2}' /proc/$pid/status)
file_kb=$(awk '/RssFile/ {print $2}' /proc/$pid/status)
printf 'peak RSS (VmHWM) %.1f MiB; now %.1f MiB private (RssAnon) + %.1f MiB mapped shared libraries/binary (RssFile)\n' \
  "$(bc -l <<<"$hwm_kb/1024")" "$(bc -l <<<"$anon_kb/1024")" "$(bc -l <<<"$file_kb/1024")"
verdict() { awk -v v="$1" -v b="$2" 'BEGIN { print (v+0 >= b+0) ? "meets" : "MISSES" }'; }
echo "budgets: non-stream ${rps[1]} ≥ 15000 → $(verdict "${rps[1]}" 15000); stream ${rps[2]} ≥ 2500 → $(verdict "${rps[2]}" 2500);" \
     "VmHWM $((hwm_kb / 1024)) MiB ≤ 30 → $(awk -v r="$hwm_kb" 'BEGIN { print (r <= 30*1024) ? "meets" : "MISSES" }')"
