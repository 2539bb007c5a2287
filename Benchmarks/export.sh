#!/usr/bin/env bash
# Export/import benchmark (issue 6). Budgets: JSONL export of 100,000 exchanges ≤ 5 s; HAR of 10,000 ≤ 2 s;
# import of 100,000 MoonPalace rows ≤ 20 s; peak memory independent of the number exported.
# History: `index _generate` (PalaceIndex's TrafficGenerator through the real LogWriter). EXPORT_BENCH_N sets its size
# (default 100,000; the issue's 1M history works too but generating it takes long on 2 cores), EXPORT_BENCH_RUNS the
# runs per figure (median reported), EXPORT_BENCH_DIR keeps the data between runs.
# Baseline in the same run: `list -n 0 --json` of the same history (one JSON line per exchange from the index alone,
# no bodies), to read the export figures against this machine's current speed.
# EXPORT_BENCH_DATA=DIR also measures the budgets literally, on an existing data directory such as the index
# issue's 1M-exchange history (/work/indexbench/data): JSONL of the newest 100,000 and HAR of the newest 10,000,
# with peak RSS at 10,000 and 100,000 (flat memory). Those exports only read DIR, but opening an index written by
# a moonpalace with another index schema rebuilds it first: use a binary of the same schema (`index status --json`
# shows schema_version), or a copy of DIR.
set -euo pipefail
BIN=${MOONPALACE_BIN:?set MOONPALACE_BIN to the moonpalace binary}
N=${EXPORT_BENCH_N:-100000}
RUNS=${EXPORT_BENCH_RUNS:-3}
DIR=${EXPORT_BENCH_DIR:-$(mktemp -d /tmp/moonpalace-export-bench-XXXXXX)}
KEEP=${EXPORT_BENCH_DIR:+1}
cleanup() { [ -n "${KEEP:-}" ] || rm -rf "$DIR"; }
trap cleanup EXIT
DATA=$DIR/data

# Runs a command RUNS times; prints "median_seconds max_rss_kib median_cpu_seconds" (CPU = user + sys: the machine
# may be shared, and CPU time does not depend on the load the way wall time does).
measure() {
  local t=() r=() c=()
  for _ in $(seq "$RUNS"); do
    rm -rf "$DIR/out" "$DIR/out.jsonl" "$DIR/out.har" "$DIR/imported"
    /usr/bin/time -f "%e %M %U %S" -o "$DIR/time.txt" "$@" >/dev/null 2>"$DIR/stderr.txt" || { cat "$DIR/stderr.txt" >&2; exit 1; }
    read -r s k u y < "$DIR/time.txt"; t+=("$s"); r+=("$k"); c+=("$(awk -v u="$u" -v y="$y" 'BEGIN{printf "%.2f", u+y}')")
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%s ", a[int((NR+1)/2)]}'
  printf '%s\n' "${r[@]}" | sort -n | tail -1 | tr '\n' ' '
  printf '%s\n' "${c[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

if [ -n "${EXPORT_BENCH_DATA:-}" ]; then
  BIG=$EXPORT_BENCH_DATA
  echo "export bench on $BIG ($RUNS runs each, median wall time; peak RSS = max)"
  "$BIN" index status --json --data-dir "$BIG" | sed -n 's/.*"exchanges":\([0-9]*\).*/history: \1 exchanges/p'
  read -r b_s b_k b_c < <(measure "$BIN" export --all --limit 100000 --format jsonl -o "$DIR/out.jsonl" --data-dir "$BIG")
  echo "JSONL export of 100,000 (1M history): ${b_s} s, CPU ${b_c} s (budget ≤ 5 s), peak RSS $((b_k / 1024)) MiB"
  read -r b10_s b10_k b10_c < <(measure "$BIN" export --all --limit 10000 --format jsonl -o "$DIR/out.jsonl" --data-dir "$BIG")
  echo "JSONL export of 10,000 (1M history): ${b10_s} s, CPU ${b10_c} s, peak RSS $((b10_k / 1024)) MiB   (memory vs 100,000: $((b_k / 1024)) MiB)"
  read -r bh_s bh_k bh_c < <(measure "$BIN" export --all --limit 10000 --format har -o "$DIR/out.har" --data-dir "$BIG")
  echo "HAR export of 10,000 (1M history): ${bh_s} s, CPU ${bh_c} s (budget ≤ 2 s), peak RSS $((bh_k / 1024)) MiB"
  rm -f "$DIR/out.jsonl" "$DIR/out.har"
fi

echo "export bench: $N exchanges in $DIR ($RUNS runs each, median wall time; peak RSS = max)"
have=$("$BIN" index status --json --data-dir "$DATA" 2>/dev/null | sed -n 's/.*"log_next_sequence":\([0-9]*\).*/\1/p' || true)
if [ "${have:-0}" -lt $((2 * N)) ]; then
  rm -rf "$DATA" "$DIR/moonpalace.sqlite"
  "$BIN" index _generate "$N" --data-dir "$DATA" >/dev/null
fi
"$BIN" list -n 1 --data-dir "$DATA" >/dev/null        # index built and caught up before timing
[ -f "$DIR/moonpalace.sqlite" ] || "$BIN" import --write-fixture "$DIR/moonpalace.sqlite" --data-dir "$DATA" >/dev/null

TEN=$(( N < 10000 ? N : 10000 ))
read -r base_s base_k base_c < <(measure "$BIN" list -n 0 --json --data-dir "$DATA")
echo "baseline: list -n 0 --json of $N exchanges: ${base_s} s (CPU ${base_c} s), peak RSS $((base_k / 1024)) MiB"
read -r j_s j_k j_c < <(measure "$BIN" export --all --format jsonl -o "$DIR/out.jsonl" --data-dir "$DATA")
echo "JSONL export of $N: ${j_s} s, CPU ${j_c} s (budget ≤ 5 s for 100,000; $(awk -v a="$j_s" -v b="$base_s" 'BEGIN{printf "%.2f", a/b}')× the baseline), peak RSS $((j_k / 1024)) MiB"
read -r j10_s j10_k j10_c < <(measure "$BIN" export --all --limit "$TEN" --format jsonl -o "$DIR/out.jsonl" --data-dir "$DATA")
echo "JSONL export of $TEN: ${j10_s} s, CPU ${j10_c} s, peak RSS $((j10_k / 1024)) MiB   (memory vs $N: $((j_k / 1024)) MiB)"
read -r h_s h_k h_c < <(measure "$BIN" export --all --limit "$TEN" --format har -o "$DIR/out.har" --data-dir "$DATA")
echo "HAR export of $TEN: ${h_s} s, CPU ${h_c} s (budget ≤ 2 s for 10,000), peak RSS $((h_k / 1024)) MiB"
read -r ha_s ha_k ha_c < <(measure "$BIN" export --all --format har -o "$DIR/out.har" --data-dir "$DATA")
echo "HAR export of $N: ${ha_s} s, CPU ${ha_c} s, peak RSS $((ha_k / 1024)) MiB"
read -r i_s i_k i_c < <(measure "$BIN" import "$DIR/moonpalace.sqlite" --data-dir "$DIR/imported")
echo "import of $N MoonPalace rows (incl. indexing them): ${i_s} s, CPU ${i_c} s (budget ≤ 20 s for 100,000), peak RSS $((i_k / 1024)) MiB"
"$BIN" import "$DIR/moonpalace.sqlite" --data-dir "$DIR/imported" >/dev/null 2>&1
/usr/bin/time -f "%e %M %U %S" -o "$DIR/time.txt" "$BIN" import "$DIR/moonpalace.sqlite" --data-dir "$DIR/imported" >/dev/null 2>"$DIR/stderr.txt" \
  || { cat "$DIR/stderr.txt" >&2; exit 1; }
read -r r_s r_k r_u r_y < "$DIR/time.txt"
echo "re-import of the same $N rows (nothing new): ${r_s} s, CPU $(awk -v u="$r_u" -v y="$r_y" 'BEGIN{printf "%.2f", u+y}') s, peak RSS $((r_k / 1024)) MiB"
rm -rf "$DIR/imported"
ls -l "$DIR/moonpalace.sqlite" | awk '{ printf "MoonPalace database: %.1f MB\n", $5/1e6 }'
