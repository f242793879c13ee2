#!/usr/bin/python3
"""Writes the seed files of the data-format fuzz targets (fuzz/corpus/<target>/): small valid .npy,
.npz, PNG, JPEG, IDX and CIFAR files, with numpy and PIL. The nimble formats (checkpoint, graph_json,
onnx) come from fuzz_make_seeds; fuzz/make_corpus.sh runs both."""
import gzip
import io
import os
import struct
import sys

import numpy as np
from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
rng = np.random.default_rng(7)


def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)


def npy(array, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()


# .npy: each dtype family, Fortran order, big-endian, 0-d, format versions 2.0 and 3.0.
put("npy", "u8_2x3.npy", npy(np.arange(6, dtype=np.uint8).reshape(2, 3)))
put("npy", "f32_fortran.npy", npy(np.asfortranarray(rng.random((2, 3), dtype=np.float32))))
put("npy", "i64_big_endian.npy", npy(np.arange(4, dtype=">i8")))
put("npy", "bool.npy", npy(np.array([True, False, True])))
put("npy", "f64_0d.npy", npy(np.array(1.5)))
put("npy", "i16_v2.npy", npy(np.arange(3, dtype=np.int16), version=(2, 0)))
put("npy", "u16_3d_v3.npy", npy(np.arange(8, dtype=np.uint16).reshape(2, 2, 2), version=(3, 0)))

# .npz: stored (np.savez) and deflated (np.savez_compressed), images and labels as `nimble` reads them.
for name, save in (("stored.npz", np.savez), ("deflated.npz", np.savez_compressed)):
    buf = io.BytesIO()
    save(buf, x=rng.integers(0, 255, (2, 1, 4, 4), dtype=np.uint8), y=np.array([0, 1], dtype=np.int64))
    put("npz", name, buf.getvalue())

# PNG and JPEG: grey, RGB, palette, alpha, 16-bit (refused), progressive and CMYK JPEGs.
def image(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


rgb = Image.fromarray(rng.integers(0, 255, (6, 5, 3), dtype=np.uint8), "RGB")
grey = rgb.convert("L")
put("image", "grey.png", image(grey, "PNG"))
put("image", "rgb.png", image(rgb, "PNG"))
put("image", "palette.png", image(rgb.convert("P"), "PNG"))
put("image", "rgba.png", image(rgb.convert("RGBA"), "PNG"))
put("image", "grey_alpha.png", image(rgb.convert("LA"), "PNG"))
put("image", "grey16.png", image(Image.fromarray(np.arange(12, dtype=np.uint16).reshape(3, 4) * 999), "PNG"))
put("image", "grey.jpg", image(grey, "JPEG", quality=80))
put("image", "rgb420.jpg", image(rgb, "JPEG", quality=80))
put("image", "rgb444_progressive.jpg", image(rgb, "JPEG", quality=90, subsampling=0, progressive=True))
put("image", "cmyk.jpg", image(rgb.convert("CMYK"), "JPEG", quality=80))

# IDX: u8 images (N, H, W) and (N, H, W, C), labels u8, s16, s32, and a gzip-compressed file.
def idx(type_code, array):
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


images = rng.integers(0, 255, (2, 3, 3), dtype=np.uint8)
put("idx", "images_2x3x3-idx3-ubyte", idx(0x08, images))
put("idx", "images_hwc-idx4-ubyte", idx(0x08, rng.integers(0, 255, (2, 2, 2, 3), dtype=np.uint8)))
put("idx", "labels_u8-idx1-ubyte", idx(0x08, np.array([3, 1], dtype=np.uint8)))
put("idx", "labels_s16-idx1-ubyte", idx(0x0B, np.array([2, 0], dtype=np.int16)))
put("idx", "labels_s32-idx1-ubyte", idx(0x0C, np.array([1, 5], dtype=np.int32)))
put("idx", "images-idx3-ubyte.gz", gzip.compress(idx(0x08, images), mtime=0))

# CIFAR: two CIFAR-10 records (label byte + 3072 pixels), one CIFAR-100 record (coarse, fine), names.
put("cifar", "cifar10_2.bin", b"".join(bytes([l]) + rng.integers(0, 255, 3072, dtype=np.uint8).tobytes() for l in (3, 9)))
put("cifar", "cifar100_1.bin", bytes([4, 42]) + rng.integers(0, 255, 3072, dtype=np.uint8).tobytes())
put("cifar", "batches.meta.txt", b"airplane\nautomobile\nbird\n\n")
