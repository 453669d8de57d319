#!/usr/bin/env python3
"""Test helper: copy a GGUF file, adding (or replacing) one string metadata key.

Usage: gguf_set_str.py IN.gguf OUT.gguf KEY VALUE
Reads the header just far enough to append a key-value pair and re-pads the
data section to general.alignment (default 32); tensor offsets are relative to
the data section, so they stay valid. Python stdlib only.
"""
import struct
import sys

FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def read_str(b, o):
    (n,) = struct.unpack_from("<Q", b, o)
    return b[o + 8:o + 8 + n], o + 8 + n


def skip_value(b, o, t):
    if t in FIXED:
        return o + FIXED[t]
    if t == 8:
        return read_str(b, o)[1]
    if t == 9:
        et, n = struct.unpack_from("<IQ", b, o)
        o += 12
        for _ in range(n):
            o = skip_value(b, o, et)
        return o
    raise SystemExit("unknown value type %d" % t)


def main():
    src, dst, key, value = sys.argv[1:5]
    b = open(src, "rb").read()
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", b, 0)
    assert magic == b"GGUF" and version in (2, 3), "not a GGUF v2/v3 file"
    o, kvs, align = 24, [], 32
    for _ in range(n_kv):
        start = o
        k, o = read_str(b, o)
        (t,) = struct.unpack_from("<I", b, o)
        o = skip_value(b, o + 4, t)
        if k == b"general.alignment":
            (align,) = struct.unpack_from("<I", b, o - 4)
        if k != key.encode():
            kvs.append(b[start:o])
    tensors_start = o
    for _ in range(n_tensors):
        _, o = read_str(b, o)
        (nd,) = struct.unpack_from("<I", b, o)
        o += 4 + 8 * nd + 4 + 8
    tensor_infos = b[tensors_start:o]
    data = b[(o + align - 1) // align * align:]
    kb, vb = key.encode(), value.encode()
    kvs.append(struct.pack("<Q", len(kb)) + kb + struct.pack("<IQ", 8, len(vb)) + vb)
    head = struct.pack("<4sIQQ", b"GGUF", version, n_tensors, len(kvs)) + b"".join(kvs) + tensor_infos
    head += b"\0" * ((-len(head)) % align)
    open(dst, "wb").write(head + data)


main()
