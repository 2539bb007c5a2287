#!/usr/bin/env python3
"""Writes Fixtures/v1.0-log/: a log exactly as format version 1.0 lays it out (FORMAT.md before the CHECKPOINT file),
from FORMAT.md alone. One segment (base 1) with every record type, one LZ4 block that copies from dictionary 1, and a
torn tail (the first 30 bytes of a frame header); no CHECKPOINT. VersionTests reads, opens and continues it.
Deterministic: rerunning gives the same bytes. Run from the repository root."""
import os, struct

ROOT = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(ROOT, "v1.0-log")
DICT = open(os.path.join(ROOT, "..", "..", "..", "dictionaries", "moonshot-v1.dict"), "rb").read()

def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF

def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80); v >>= 7
    out.append(v)
    return bytes(out)

def zz(n): return (n << 1) ^ (n >> 63)
def f_varint(tag, v): return varint(tag << 3 | 0) + varint(v)
def f_bytes(tag, b): return varint(tag << 3 | 2) + varint(len(b)) + b
def f_str(tag, s): return f_bytes(tag, s.encode())
def header(name, value): return f_str(1, name) + f_str(2, value)

T0 = 1_763_925_000_000_000
begin1 = (b"\x01" + f_varint(2, zz(T0)) + f_str(3, "POST") + f_str(4, "/v1/chat/completions?v=1.0")
          + f_str(5, "https://api.moonshot.cn") + f_bytes(6, header("Authorization", "Bearer " + "*" * 20 + "abcd"))
          + f_str(7, '{"model":"kimi-k2","messages":[{"role":"user","content":"你好"}],"stream":true}')
          + f_varint(8, 1) + f_str(9, "req-1") + f_varint(10, 1) + f_bytes(11, header("moonpalace_id", "mp-1")))
chunk_req = b"\x01" + f_varint(2, 1) + f_varint(3, 77) + f_str(4, ',"temperature":0.3}')
# An LZ4 block (codec 1, dictionary 1) whose middle 64 bytes are copied from the dictionary's last 300 bytes.
body = DICT[-300:-236] + b"tail!..."
lz4_raw = b"\x01\x10\x02\x22" + bytes([len(body)]) + body
lz4_block = (bytes([0x5F]) + lz4_raw[:5] + struct.pack("<H", 5 + 300) + bytes([64 - 4 - 15])
             + bytes([0x80]) + b"tail!...")
end1 = (b"\x01" + f_varint(2, zz(T0 + 2_000_000)) + f_varint(3, zz(200))
        + f_bytes(4, header("Msh-Request-Id", "r-1")) + f_str(5, "data: [DONE]\n\n") + f_varint(6, 72)
        + f_varint(7, 96) + f_varint(8, 86)
        + f_bytes(9, f_varint(1, zz(350_000)) + f_varint(3, zz(2_000_000)) + b"\x21" + struct.pack("<d", 12.5))
        + f_str(10, "r-1") + f_str(11, "chatcmpl-1") + f_str(14, "kimi-k2")
        + f_bytes(15, f_varint(1, zz(10)) + f_varint(2, zz(5)) + f_varint(3, zz(15)))
        + f_str(16, "stop") + f_varint(17, 1) + f_str(20, '{"id":"chatcmpl-1"}'))
annotation = b"\x01" + f_str(2, "goodcase") + f_str(3, "v1.0")
begin2 = b"\x01" + f_varint(2, zz(T0 + 3_000_000)) + f_str(3, "GET") + f_str(4, "/v1/models")
tombstone = b"\x01" + f_varint(1, 2) + f_str(2, "cleanup")

def frame(rtype, seq, xid, ts, payload, codec=0, dictionary=0, raw_len=None):
    rest = struct.pack("<IIBBHQQq", len(payload), raw_len if raw_len is not None else len(payload), rtype, codec,
                       dictionary, seq, xid, ts)
    return b"\xfe\x4d\x50\x4c" + struct.pack("<I", crc32c(rest, crc32c(payload))) + rest + payload

seg = bytearray(b"MPLOGSEG" + struct.pack("<HHIQqQI", 1, 48, 0, 1, T0, 1, 0))
seg += struct.pack("<I", crc32c(bytes(seg)))
seg += frame(1, 1, 1, T0 + 1, begin1)
seg += frame(2, 2, 1, T0 + 2, chunk_req)
seg += frame(2, 3, 1, T0 + 3, lz4_block, codec=1, dictionary=1, raw_len=len(lz4_raw))
seg += frame(3, 4, 1, T0 + 4, end1)
seg += frame(4, 5, 1, T0 + 5, annotation)
seg += frame(1, 6, 2, T0 + 6, begin2)
seg += frame(5, 7, 0, T0 + 7, tombstone)
seg += frame(4, 8, 1, T0 + 8, annotation)[:30]  # torn tail
os.makedirs(OUT, exist_ok=True)
open(os.path.join(OUT, "00000000000000000001.seg"), "wb").write(bytes(seg))
print("wrote", len(seg), "bytes; lz4 record raw length", len(lz4_raw))
