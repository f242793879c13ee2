#!/usr/bin/env python3
"""The same images in every format `--data` reads, trained on side by side.

One canonical set of 3x32x32 RGB images is made from Fashion-MNIST (Debian's dataset-fashion-mnist):
each 28x28 image padded to 32x32 and tinted with a seeded per-image colour, so the three channels
differ. It is written as
  idx        rank-4 (N, H, W, C) IDX files (the format nimble read before)
  cifar      CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin)
  npz        one .npz archive (x_train, y_train, x_test, y_test; NHWC uint8)
  npy        a folder of .npy files (the same arrays)
  png        an image folder train/<class>/*.png, test/<class>/*.png (lossless: the same pixels)
  jpeg       the same as JPEG, quality 95 (lossy: pixels differ slightly)
and for each format `nimble train --model M --data D --input 3x32x32 --seed S --json` runs, one at a
time. It prints test accuracy, training throughput (samples/s over the training steps, the decoded
cache warm) the fraction of step time spent waiting for data and the precision `auto` chose (pass
`--extra "--precision bf16"` to fix it: auto decides by timing, which a busy machine sways), then a
JSON line.

    OMP_NUM_THREADS=2 /usr/bin/python3 bench/data_formats.py build/nimble [--train 10000] [--test 2000]
        [--epochs 5] [--model mobilenet_v2] [--formats idx cifar npz npy png jpeg] [--seeds 0 1 2] [--work DIR]
        [--extra "--cache-mb 1"]

Do not run it beside a build: throughput is compared across rows.
"""
import argparse
import gzip
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import time

import numpy as np
from PIL import Image

FASHION = "/usr/share/datasets/fashion-mnist"
CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * rank).reshape(dims)


def canonical(images, seed):
    """(N, 28, 28) grey -> (N, 32, 32, 3) RGB: padded, then each image tinted by its own colour."""
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    tint = np.random.default_rng(seed).uniform(0.4, 1.0, (len(images), 1, 1, 3))
    return np.round(padded[..., None] * tint).astype(np.uint8)


def write_idx(path, array):
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(np.ascontiguousarray(array, np.uint8).tobytes())


def write_cifar(path, x, y):
    records = np.concatenate([y.astype(np.uint8)[:, None], x.transpose(0, 3, 1, 2).reshape(len(x), -1)], axis=1)
    records.tofile(path)


def write_sets(root, fmt, data):
    (xtr, ytr), (xte, yte) = data
    d = os.path.join(root, fmt)
    if os.path.exists(os.path.join(d, ".done")):
        return d if fmt != "npz" else os.path.join(d, "data.npz")
    os.makedirs(d, exist_ok=True)
    if fmt == "idx":
        write_idx(f"{d}/train-images-idx3-ubyte", xtr)
        write_idx(f"{d}/train-labels-idx1-ubyte", ytr)
        write_idx(f"{d}/t10k-images-idx3-ubyte", xte)
        write_idx(f"{d}/t10k-labels-idx1-ubyte", yte)
    elif fmt == "cifar":
        for k, part in enumerate(np.array_split(np.arange(len(xtr)), 5)):
            write_cifar(f"{d}/data_batch_{k + 1}.bin", xtr[part], ytr[part])
        write_cifar(f"{d}/test_batch.bin", xte, yte)
        with open(f"{d}/batches.meta.txt", "w") as f:
            f.write("\n".join(CLASSES) + "\n")
    elif fmt == "npz":
        np.savez(f"{d}/data.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    elif fmt == "npy":
        for name, a in (("x_train", xtr), ("y_train", ytr), ("x_test", xte), ("y_test", yte)):
            np.save(f"{d}/{name}.npy", a)
    else:
        ext = "png" if fmt == "png" else "jpg"
        for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
            for c in CLASSES:
                os.makedirs(f"{d}/{split}/{c}", exist_ok=True)
            for i, (img, label) in enumerate(zip(x, y)):
                path = f"{d}/{split}/{CLASSES[label]}/{i:06d}.{ext}"
                Image.fromarray(img).save(path, quality=95) if ext == "jpg" else Image.fromarray(img).save(path)
    open(os.path.join(d, ".done"), "w").close()
    return d if fmt != "npz" else os.path.join(d, "data.npz")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("nimble")
    ap.add_argument("--train", type=int, default=10000)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--model", default="mobilenet_v2")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per format and seed")
    ap.add_argument("--formats", nargs="+", default=["idx", "cifar", "npz", "npy", "png", "jpeg"])
    ap.add_argument("--work", default="/tmp/nimble_data_formats")
    ap.add_argument("--extra", default="", help="more `nimble train` arguments, e.g. \"--cache-mb 1\"")
    args = ap.parse_args()

    xtr = read_idx(f"{FASHION}/train-images-idx3-ubyte.gz")[: args.train]
    ytr = read_idx(f"{FASHION}/train-labels-idx1-ubyte.gz")[: args.train]
    xte = read_idx(f"{FASHION}/t10k-images-idx3-ubyte.gz")[: args.test]
    yte = read_idx(f"{FASHION}/t10k-labels-idx1-ubyte.gz")[: args.test]
    data = ((canonical(xtr, 1), ytr), (canonical(xte, 2), yte))
    root = os.path.join(args.work, f"{args.train}_{args.test}")
    rows = []
    print(f"{args.model} 3x32x32, {args.train} training / {args.test} test images, {args.epochs} epochs, "
          f"seeds {args.seeds}; {platform.processor() or platform.machine()}", flush=True)
    print(f"{'format':8} {'seed':>4} {'test acc':>9} {'samples/s':>10} {'data wait':>10} {'read+train s':>13} "
          f"{'precision':>10}")
    for fmt, seed in [(f, s) for f in args.formats for s in args.seeds]:
        path = write_sets(root, fmt, data)
        out = os.path.join(root, f"{fmt}.nimble")
        cmd = [args.nimble, "train", "--model", args.model, "--data", path, "--input", "3x32x32",
               "--epochs", str(args.epochs), "--seed", str(seed), "--json", "--quiet", "--out", out]
        cmd += args.extra.split()
        t0 = time.time()
        run = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.time() - t0
        if run.returncode != 0:
            print(f"{fmt:8} {seed:4} failed: {run.stderr.strip().splitlines()[-1:]}", flush=True)
            rows.append({"format": fmt, "seed": seed, "error": run.stderr.strip()})
            continue
        r = json.loads(run.stdout)
        rows.append({"format": fmt, "seed": seed, "test_accuracy": r["test_accuracy"], "train_samples_per_s": r["train_samples_per_s"],
                     "data_wait_fraction": r["data_wait_fraction"], "seconds": seconds, "precision": r["precision"]})
        print(f"{fmt:8} {seed:4} {r['test_accuracy']:9.4f} {r['train_samples_per_s']:10.0f} "
              f"{100 * r['data_wait_fraction']:9.2f}% {seconds:13.1f} {r['precision']:>10}", flush=True)
    if len(args.seeds) > 1:
        print("mean over seeds:")
        for fmt in args.formats:
            acc = [r["test_accuracy"] for r in rows if r["format"] == fmt and "error" not in r]
            if acc:
                print(f"{fmt:8} {statistics.mean(acc):9.4f} +- {statistics.pstdev(acc):.4f} ({len(acc)} runs)")
    print(json.dumps({"model": args.model, "train": args.train, "test": args.test, "epochs": args.epochs,
                      "rows": rows}))
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
