#!/usr/bin/env python3
"""torchvision classifiers exported to ONNX, with an input and PyTorch's logits for it.

The fixtures of nimble's ONNX import tests (python/tests/test_onnx_torchvision.py) and of
bench/onnx_peers.sh. Models are built with `weights=None` after torch.manual_seed(seed): nothing
is downloaded, and the same seed gives the same weights.

Random initialisation leaves every batch norm at mean 0, variance 1, scale 1, shift 0, where an
importer that dropped batch norms (or confused variance and standard deviation) would still
match. So by default (calibrate_norms=True) the running statistics are first re-estimated on one
seeded random batch in train mode and the scales and shifts drawn around 1 and 0: each batch
norm then really normalises. calibrate_norms=False (CLI: --plain-init) gives the plain
`torchvision.models.<family>(weights=None).eval()`.

Library:
    from torchvision_models import export, FAMILIES
    paths = export("resnet18", "out/resnet18")   # out/resnet18/{model.onnx, input.npy, torch.npy}

CLI (Debian's interpreter, /usr/bin/python3, has torch and torchvision):
    /usr/bin/python3 tests/onnx/torchvision_models.py export resnet18 OUT_DIR [--opset 13]
        [--input-size 224] [--batch 2] [--seed 0] [--dynamic-batch] [--plain-init]
    # every family (or --families ...): export, run in ONNX Runtime (tests/onnx/ort_run.js), compare
    # with PyTorch's logits, print the max relative error and the export time of each
    /usr/bin/python3 tests/onnx/torchvision_models.py check [--input-size 224] [--batch 2] [--opset 13]

Error measure throughout: max |a - b| / max |b| over all logits, b being PyTorch's.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# The torchvision 0.14 classifiers the ONNX importer must handle, and what each exercises.
# The smallest input each accepts is 32 (five stride-2 stages; all end in a global pooling).
FAMILIES = {
    "resnet18": "conv+bn+relu, max pool, residual add, global average pool, flatten, gemm",
    "mobilenet_v2": "depthwise conv, relu6 (Clip), inverted residuals, dropout (removed in eval)",
    "mobilenet_v3_small": "hardswish/hardsigmoid, squeeze-excitation (pool, 1x1 convs, mul)",
    "mobilenet_v3_large": "as mobilenet_v3_small, more blocks and 5x5 depthwise convs",
    "shufflenet_v2_x0_5": "channel split (Split/Slice), concat, channel shuffle (Reshape/Transpose)",
    "efficientnet_b0": "SiLU (x * Sigmoid), squeeze-excitation, stochastic depth (removed in eval)",
    "squeezenet1_1": "fire modules (concat), ceil-mode max pool, conv classifier, no linear layer",
    "densenet121": "dense concatenation, bn+relu before conv, average pool 2x2",
    "mnasnet0_5": "mean over H, W (ReduceMean) instead of a pooling layer",
    "regnet_y_400mf": "grouped convs, squeeze-excitation with ReLU and Sigmoid",
    "regnet_x_400mf": "grouped convs without squeeze-excitation",
}

HERE = Path(__file__).resolve().parent
ORT_RUN = HERE / "ort_run.js"


def _torch():
    import torch  # noqa: deferred so that `--help` and FAMILIES work without torch
    import torchvision
    return torch, torchvision


def relative_error(actual, expected):
    """max |a - b| / max |b| (b: the reference); inf when shapes differ."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        return float("inf")
    scale = np.max(np.abs(expected))
    diff = np.max(np.abs(actual - expected))
    return float(diff / scale) if scale > 0 else float(diff)


def random_input(shape, seed):
    """Seeded standard-normal float32 images, C order (an already-normalised NCHW batch)."""
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def build(family, seed=0, input_size=224, calibrate_norms=True):
    """torchvision.models.<family>(weights=None) in eval mode, weights fixed by the seed.

    calibrate_norms: re-estimate every batch norm's running statistics on one random batch of
    input_size images and draw its scale/shift around 1/0 (see the module docstring).
    """
    torch, torchvision = _torch()
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    torch.manual_seed(seed)
    model = getattr(torchvision.models, family)(weights=None)
    if calibrate_norms:
        norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        gen = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for bn in norms:
                bn.reset_running_stats()
                bn.momentum = None  # a cumulative average: one batch gives exactly its statistics
                if bn.affine:
                    bn.weight.uniform_(0.5, 1.5, generator=gen)
                    bn.bias.normal_(0.0, 0.2, generator=gen)
            model.train()
            # Batch 8: every batch norm sees >= 8 values per channel even at a 1x1 feature map.
            x = torch.from_numpy(random_input((8, 3, input_size, input_size), seed + 2))
            model(x)
    return model.eval()


def export(family, out_dir, opset=13, input_size=224, batch=2, seed=0, dynamic_batch=False,
           calibrate_norms=True):
    """Writes out_dir/model.onnx, out_dir/input.npy (float32 (batch, 3, size, size), seeded
    standard normal) and out_dir/torch.npy (PyTorch's float32 logits on it).

    The ONNX graph has input "input" and output "logits"; with dynamic_batch the batch dimension
    is symbolic ("batch"), else fixed at `batch`. Constant folding is torch's default (on).
    Returns {"model", "input", "torch", "seconds"} (paths as str; seconds: build + export + run).
    """
    torch, _ = _torch()
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build(family, seed=seed, input_size=input_size, calibrate_norms=calibrate_norms)
    x = random_input((batch, 3, input_size, input_size), seed)
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).numpy().astype(np.float32)
        paths = {"model": out / "model.onnx", "input": out / "input.npy", "torch": out / "torch.npy"}
        torch.onnx.export(model, (torch.from_numpy(x),), str(paths["model"]), opset_version=opset,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None)
    np.save(paths["input"], x)
    np.save(paths["torch"], logits)
    result = {k: str(v) for k, v in paths.items()}
    result["seconds"] = time.perf_counter() - start
    return result


def run_ort(model, input_npy, output_npy, threads=2):
    """Runs tests/onnx/ort_run.js (ONNX Runtime through node); returns the output array.

    NODE_PATH as scripts/install-onnxruntime.sh prints it, or its default folder in this
    checkout (build/_deps/onnxruntime), which ort_run.js finds by itself.
    """
    proc = subprocess.run(["node", str(ORT_RUN), str(model), str(input_npy), str(output_npy), str(threads)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip() or f"ort_run.js exited with {proc.returncode}")
    return np.load(output_npy)


def _cmd_export(args):
    r = export(args.family, args.out_dir, opset=args.opset, input_size=args.input_size, batch=args.batch,
               seed=args.seed, dynamic_batch=args.dynamic_batch, calibrate_norms=not args.plain_init)
    print(json.dumps(r))


def _cmd_check(args):
    torch, _ = _torch()
    families = args.families or list(FAMILIES)
    rows, worst, total = [], 0.0, 0.0
    with tempfile.TemporaryDirectory(prefix="tv_onnx_") as tmp:
        for family in families:
            for opset in args.opset:
                d = Path(tmp) / f"{family}.{opset}"
                try:
                    r = export(family, d, opset=opset, input_size=args.input_size, batch=args.batch,
                               seed=args.seed, dynamic_batch=args.dynamic_batch,
                               calibrate_norms=not args.plain_init)
                except Exception as e:  # a family torch cannot export at this size/opset is reported
                    rows.append({"family": family, "opset": opset, "error": f"export: {str(e).splitlines()[0]}"})
                    print(json.dumps(rows[-1]), flush=True)
                    continue
                total += r["seconds"]
                row = {"family": family, "opset": opset, "export_s": round(r["seconds"], 2),
                       "onnx_mb": round(os.path.getsize(r["model"]) / 1e6, 1)}
                ref = np.load(r["torch"])
                row["logit_scale"] = float(np.max(np.abs(ref)))
                try:
                    t = time.perf_counter()
                    got = run_ort(r["model"], r["input"], d / "ort.npy", threads=args.threads)
                    row["ort_s"] = round(time.perf_counter() - t, 2)
                    row["max_rel_err"] = relative_error(got, ref)
                    row["ok"] = row["max_rel_err"] <= args.tolerance
                    worst = max(worst, row["max_rel_err"])
                except RuntimeError as e:
                    row["error"] = f"ort: {e}"
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"\n{'family':<20} {'opset':>5} {'export s':>9} {'MB':>6} {'max rel err':>12}  ok")
    for row in rows:
        if "error" in row:
            print(f"{row['family']:<20} {row['opset']:>5}  {row['error']}")
        else:
            print(f"{row['family']:<20} {row['opset']:>5} {row['export_s']:>9.2f} {row['onnx_mb']:>6.1f} "
                  f"{row['max_rel_err']:>12.2e}  {'yes' if row['ok'] else 'NO'}")
    print(f"(input {args.batch}x3x{args.input_size}x{args.input_size}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; exports took {total:.1f} s in all; "
          f"worst relative error {worst:.2e}, tolerance {args.tolerance:g})")
    return 0 if all(r.get("ok") for r in rows) else 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(q):
        q.add_argument("--input-size", type=int, default=224, help="height = width of the input (>= 32)")
        q.add_argument("--batch", type=int, default=2)
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--dynamic-batch", action="store_true", help="a symbolic batch dimension in the ONNX graph")
        q.add_argument("--plain-init", action="store_true",
                       help="leave batch norms at their initial statistics (identity-like)")

    e = sub.add_parser("export", help="export one family")
    e.add_argument("family", choices=list(FAMILIES))
    e.add_argument("out_dir")
    e.add_argument("--opset", type=int, default=13)
    common(e)
    c = sub.add_parser("check", help="export families and compare ONNX Runtime with PyTorch")
    c.add_argument("--families", nargs="+", choices=list(FAMILIES), help="default: all")
    c.add_argument("--opset", type=int, nargs="+", default=[13], help="one or more opsets")
    c.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    c.add_argument("--tolerance", type=float, default=1e-4, help="max relative error counted as a match")
    common(c)
    args = p.parse_args(argv)
    if args.input_size < 32:
        p.error("--input-size must be at least 32 (the models downsample by 32)")
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    torch, _ = _torch()
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    if args.command == "export":
        return _cmd_export(args)
    return _cmd_check(args)


if __name__ == "__main__":
    sys.exit(main())
