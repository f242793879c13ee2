#!/usr/bin/python3
"""Rewrites a .nimble checkpoint with its header JSON edited (CRC recomputed, data section kept), as the
regressions in checkpoint/ were made:
    edit_checkpoint.py SRC DST "h['extra']['hyper']['epochs'] = 1e300"
(`h` is the header object, `data` the data section's bytes)."""
import json, struct, zlib, sys
src, dst, edit = sys.argv[1], sys.argv[2], sys.argv[3]
b = open(src, 'rb').read()
hlen = struct.unpack('<Q', b[12:20])[0]
h = json.loads(b[24:24+hlen])
doff = (24 + hlen + 63)//64*64
data = b[doff:doff+h['data_bytes']]
exec(edit)
hb = json.dumps(h, separators=(',', ':')).encode()
out = b[:8] + struct.pack('<IQI', 1, len(hb), zlib.crc32(hb)) + hb
out += b'\0' * ((-len(out)) % 64) + data
open(dst, 'wb').write(out)
