#!/usr/bin/env python3
"""`nimble optimize` on a model and data that are not nimble's: a torchvision MobileNetV2 trained in
PyTorch, exported to ONNX, and an image folder (issue 22's second check, reproducible).

1. An image folder DIR/data/{train,test}/<class>/*.png of 3x32x32 RGB images: four Fashion-MNIST
   classes (Debian's dataset-fashion-mnist), each image padded and tinted by its own colour
   (bench/data_formats.py's canonical form).
2. `torchvision.models.mobilenet_v2(weights=None, num_classes=4)` trained in PyTorch on pixels / 255
   (SGD, cosine, flips) and exported with `torch.onnx.export` (opset 13, dynamic batch):
   DIR/mnv2.onnx. PyTorch is the user's trainer here, not nimble.
3. `nimble optimize DIR/mnv2.onnx --data DIR/data --max-drop 1 --out DIR/opt --json`.
4. Both ONNX files in ONNX Runtime (tests/onnx/ort_run.js, ort_bench.js): test accuracy on the
   folder's test images fed as pixels / 255, and batch-1 median latency on one and two threads,
   each model timed in turn, three rounds.

Prints a table and one JSON line; exit status 0 when the optimized model is faster in ONNX Runtime
(the better thread count of each) and within the drop of the given model's accuracy there, 1 when
not, 2 on a usage or tool failure.

    /usr/bin/python3 bench/optimize_onnx_check.py build/nimble --work /tmp/onnx-check [--epochs 8]
        [--train-per-class 600] [--test-per-class 150] [--seed 0] [--max-drop 1]

Needs Debian's python3-torch and python3-torchvision (scripts/install-deps.sh) and onnxruntime-node
(scripts/install-onnxruntime.sh). About 3 minutes on 2 cores.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_formats import CLASSES, FASHION, canonical, read_idx  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
KEPT = [0, 1, 7, 8]  # t-shirt, trouser, sneaker, bag


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def pick(images, labels, per_class, seed):
    rng = np.random.default_rng(seed)
    chosen = []
    for c in KEPT:
        idx = np.flatnonzero(labels == c)
        if len(idx) < per_class:
            fail(f"class {CLASSES[c]} has {len(idx)} images, fewer than {per_class}")
        chosen.append(rng.choice(idx, per_class, replace=False))
    order = np.concatenate(chosen)
    new_label = {c: i for i, c in enumerate(KEPT)}
    return images[order], np.array([new_label[c] for c in labels[order]])


def folder_name(i):
    return f"{i}-{CLASSES[KEPT[i]]}"  # sorted as the class index: folder loaders sort names


def write_folder(root, split, images, labels):
    for i in range(len(KEPT)):
        (root / split / folder_name(i)).mkdir(parents=True, exist_ok=True)
    for n, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(root / split / folder_name(label) / f"{n:05d}.png")


def to_tensor(images):  # (N, 32, 32, 3) uint8 -> (N, 3, 32, 32) float32 pixels / 255
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0


def train_torch(x, y, x_test, y_test, epochs, seed, out):
    import torch
    import torchvision

    torch.manual_seed(seed)
    model = torchvision.models.mobilenet_v2(weights=None, num_classes=len(KEPT))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=4e-5)
    steps = epochs * ((len(x) + 63) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=steps, pct_start=0.15)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 64):
            b = perm[i:i + 64]
            xb = xt[b]
            flip = torch.rand(len(b), generator=gen) < 0.5
            xb[flip] = xb[flip].flip(3)
            loss = torch.nn.functional.cross_entropy(model(xb), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"pytorch epoch {epoch + 1}/{epochs} loss {loss.item():.4f}", flush=True)
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
    torch.onnx.export(model, torch.from_numpy(x_test[:1]), str(out), opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return float(acc)


def node(*args):
    env = dict(os.environ)
    proc = subprocess.run(["node", *map(str, args)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        fail(f"node {' '.join(map(str, args))}: {proc.stderr.strip()}")
    return proc.stdout


def ort_accuracy(model, x_path, y, work):
    out = work / (Path(model).stem + "-logits.npy")
    node(REPO / "tests/onnx/ort_run.js", model, x_path, out, 2)
    return float((np.load(out).argmax(1) == y).mean())


def ort_latency_ms(model, threads):
    return float(json.loads(node(REPO / "tests/onnx/ort_bench.js", model, "1,3,32,32", threads, 1000))["median_ms"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("nimble")
    ap.add_argument("--work", required=True)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--train-per-class", type=int, default=600)
    ap.add_argument("--test-per-class", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-drop", type=float, default=1.0)
    a = ap.parse_args()
    work = Path(a.work)
    if work.exists() and any(work.iterdir()):
        fail(f"--work {work} is not empty")
    work.mkdir(parents=True, exist_ok=True)

    x_all = read_idx(f"{FASHION}/train-images-idx3-ubyte.gz")
    y_all = read_idx(f"{FASHION}/train-labels-idx1-ubyte.gz")
    xs_all = read_idx(f"{FASHION}/t10k-images-idx3-ubyte.gz")
    ys_all = read_idx(f"{FASHION}/t10k-labels-idx1-ubyte.gz")
    train_img, train_y = pick(canonical(x_all, a.seed), y_all, a.train_per_class, a.seed)
    test_img, test_y = pick(canonical(xs_all, a.seed + 1), ys_all, a.test_per_class, a.seed)
    write_folder(work / "data", "train", train_img, train_y)
    write_folder(work / "data", "test", test_img, test_y)
    x_test = to_tensor(test_img)
    np.save(work / "test-x.npy", x_test)

    t0 = time.time()
    torch_acc = train_torch(to_tensor(train_img), train_y, x_test, test_y, a.epochs, a.seed, work / "mnv2.onnx")
    print(f"pytorch: {100 * torch_acc:.2f} % test, {time.time() - t0:.0f} s; exported {work / 'mnv2.onnx'}")

    t0 = time.time()
    cmd = [a.nimble, "optimize", str(work / "mnv2.onnx"), "--data", str(work / "data"), "--max-drop",
           str(a.max_drop), "--out", str(work / "opt"), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    (work / "optimize.log").write_text(proc.stderr)
    if proc.returncode != 0:
        fail(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
    report = json.loads(proc.stdout)
    seconds = time.time() - t0
    print(f"nimble optimize: {seconds:.0f} s, goals met: {report.get('goals_met')}, "
          f"recommended: {report.get('recommended')}")

    given, optimized = work / "mnv2.onnx", work / "opt" / "model.onnx"
    acc = {m: ort_accuracy(m, work / "test-x.npy", test_y, work) for m in (given, optimized)}
    lat = {(m, t): [] for m in (given, optimized) for t in (1, 2)}
    for _ in range(3):  # the two models in turn, so a slow minute slows both
        for t in (1, 2):
            for m in (given, optimized):
                lat[(m, t)].append(ort_latency_ms(m, t))
    med = {k: statistics.median(v) for k, v in lat.items()}
    best = {m: min(med[(m, 1)], med[(m, 2)]) for m in (given, optimized)}

    print(f"{'in ONNX Runtime, pixels / 255':34} {'test accuracy':>14} {'1 thread ms':>12} {'2 threads ms':>13}")
    for name, m in (("given (mnv2.onnx)", given), ("optimized (opt/model.onnx)", optimized)):
        print(f"{name:34} {100 * acc[m]:13.2f}% {med[(m, 1)]:12.4f} {med[(m, 2)]:13.4f}")
    speedup = best[given] / best[optimized]
    drop = 100 * (acc[given] - acc[optimized])
    ok = speedup > 1 and drop <= a.max_drop
    print(f"optimized: {speedup:.2f}x faster (each at its better thread count), "
          f"{drop:+.2f} points of accuracy lost (max {a.max_drop}): {'met' if ok else 'NOT met'}")
    print(json.dumps({"pytorch_accuracy": torch_acc, "ort_accuracy_given": acc[given],
                      "ort_accuracy_optimized": acc[optimized], "ort_ms": {f"{Path(m).name}@{t}": v for (m, t), v in
                                                                           med.items()},
                      "speedup": speedup, "drop_points": drop, "optimize_seconds": seconds,
                      "goals_met": report.get("goals_met"), "unmet": report.get("unmet"), "met": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
