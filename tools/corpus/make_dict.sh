#!/usr/bin/env bash
# Rebuilds LZ4 dictionary 1 (dictionaries/moonshot-v1.dict) from the synthetic training traffic and regenerates
# Sources/CPalaceDict/dictionaries.c. Deterministic: the same generator seed gives the same dictionary.
# A shipped dictionary must never change once records use it: a new one gets a new id (FORMAT.md, "Dictionary").
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 tools/corpus/generate.py --pool train --samples "$work/samples" --count 1500
# zstd's trainer puts its entropy tables first and the most useful content last; LZ4 only uses the last 64 KiB
# of a dictionary, so train a little more and keep exactly the last 65536 bytes of content.
zstd -q --train -r "$work/samples" --maxdict=80000 -o "$work/full.dict"
tail -c 65536 "$work/full.dict" > "${DICT_OUT:-dictionaries/moonshot-v1.dict}"
python3 tools/corpus/dict_to_c.py Sources/CPalaceDict/dictionaries.c 1="${DICT_OUT:-dictionaries/moonshot-v1.dict}"
echo "dictionary 1: $(wc -c < "${DICT_OUT:-dictionaries/moonshot-v1.dict}") bytes"
