#!/usr/bin/env python3
"""Writes seed inputs for the large_send fuzz target (fuzz/fuzz_targets/large_send.rs): valid
IPv4 and IPv6 large sends with and without TCP options, so libFuzzer starts from the accepting
path and mutates from there. Usage: tools/lso-seed.py DIRECTORY"""
import os, struct, sys

def frame(v6, options, payload, flags=0x18):
    eth = b"\x02rv\x00\x00\x02" + b"\x02rv\x00\x00\x01" + (b"\x86\xdd" if v6 else b"\x08\x00")
    tcp = struct.pack(">HHIIBBHHH", 40000, 5201, 0xfffff000, 77, (20 + len(options)) // 4 << 4, flags, 1024, 0, 0) + options
    if v6:
        ip = struct.pack(">IHBB", 6 << 28, 0, 6, 64) + bytes(15) + b"\x01" + bytes(15) + b"\x02"
    else:
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 0, 0x7ff0, 0x4000, 64, 6, 0, bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]))
    return eth + ip + tcp + bytes(i % 251 for i in range(payload)), len(eth) + len(ip)

os.makedirs(sys.argv[1], exist_ok=True)
ts = b"\x01\x01\x08\x0a" + bytes(8)
for i, (v6, options, payload, mss) in enumerate([(False, b"", 3000, 1460), (True, ts, 5000, 1428), (False, ts, 20000, 1448), (True, b"", 100, 1440)]):
    data, offset = frame(v6, options, payload, 0x19 if i == 2 else 0x18)
    head = struct.pack("<I", mss)[:3] + struct.pack("<H", offset) + bytes([12])
    with open(os.path.join(sys.argv[1], f"seed{i}"), "wb") as f:
        f.write(head + data)
