#!/usr/bin/env bash
# PalaceLog figures for `make bench` (release build via MOONPALACE_BIN). Budgets (issue 2 §5): append 2 KB records
# with batch sync >= 100,000 records/s; 64 KB records >= 400 MB/s beside a dd sequential write to the same disk;
# compression >= 10x with the dictionary on a realistic mixed corpus (~40 % JSON completions, 60 % SSE);
# scan >= 1 GB/s of decompressed payload on one core; open + recovery of a 1 GiB log <= 1 s.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${MOONPALACE_BIN:?set MOONPALACE_BIN to the release binary}"
work=$(mktemp -d "${BENCH_DIR:-$PWD}/.bench-log.XXXXXX"); trap 'rm -rf "$work"' EXIT
python3 tools/corpus/generate.py --pool test --jsonl "$work/corpus.jsonl" --count 2000
echo "disk: $(df -h "$work" | awk 'NR==2 {print $1, $2}')"
dd if=/dev/zero of="$work/dd.bin" bs=1M count=1024 conv=fdatasync 2>&1 | tail -1 | sed 's/^/dd sequential write, 1 GiB + fdatasync: /'
rm -f "$work/dd.bin"
"$MOONPALACE_BIN" log _bench --corpus "$work/corpus.jsonl" --dir "$work/logs"
