#!/usr/bin/env bash
# Trains the current LZ4 dictionary (2: dictionaries/moonshot-v2.dict) from synthetic training traffic and regenerates
# Sources/CPalaceDict/dictionaries.c with every shipped dictionary. Deterministic: the same generator seed and zstd
# version give the same dictionary. A shipped dictionary never changes once records use it: a better one gets a new
# id (FORMAT.md, "Dictionary"); old ones stay in dictionaries/ and in the C file forever.
#
# Dictionary 2 is trained on the begin/end record payloads exactly as the writer encodes them (generate.py
# --payloads), not on HTTP-text renderings (dictionary 1): LZ4 matches byte strings, and the TLV length bytes between
# header names and values broke most of dictionary 1's header matches.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
out="${DICT_OUT:-dictionaries/moonshot-v2.dict}"
python3 tools/corpus/generate.py --pool train --payloads "$work/payloads" --count 4000
# zstd's trainer puts its entropy tables first and the most useful content last; LZ4 only uses the last 64 KiB
# of a dictionary, so train a little more and keep exactly the last 65536 bytes of content.
zstd -q --train -r "$work/payloads" --maxdict=80000 -o "$work/full.dict"
tail -c 65536 "$work/full.dict" > "$out"
python3 tools/corpus/dict_to_c.py Sources/CPalaceDict/dictionaries.c 1=dictionaries/moonshot-v1.dict 2="$out"
echo "dictionary 2: $(wc -c < "$out") bytes"
