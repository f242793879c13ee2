#!/usr/bin/env python3
"""nimble against ONNX Runtime and PyTorch on torchvision ImageNet models, side by side in one run.

For each model (torchvision resnet18 and mobilenet_v2, random weights, 3x224x224, 1000 classes):
  1. export it to ONNX with a symbolic batch (tests/onnx/torchvision_models.py);
  2. nimble import   model.onnx -> model.nimble (ImageNet mean/std as its preprocessing);
  3. nimble quantize model.nimble -> model.int8.nimble, calibrated on a synthetic IDX set (random
     u8 224x224x3 images, labels 0..999: speed only, the accuracy it reports means nothing; if
     quantize asks for its default 5000-image validation split, as it does for imported models,
     a set 5000 images larger is written, ~760 MB);
  4. nimble export   model.int8.nimble -> model.int8.onnx (ONNX Runtime's int8 form, QDQ);
then times, at batch 1 and 32, in rounds that alternate the engines (this machine's speed drifts
by tens of percent between seconds, so each figure is the median over rounds of per-round medians,
over the rounds in which other processes took under 10 % of the CPU if there are any):
  nimble fp32 / bf16 / int8     `nimble bench` (batch 1: its p50 latency; batch B: B / throughput)
  ONNX Runtime fp32             torchvision's ONNX              (tests/onnx/ort_bench.js)
  ONNX Runtime int8             nimble's QDQ export
  ONNX Runtime int8 (torch QDQ) PyTorch's own FX int8 model exported to QDQ ONNX, when torch can
  PyTorch fp32 / bf16 autocast / int8 (FX post-training quantization, onednn engine), channels-last,
     in a separate process per round.
It prints a table of median ms per batch and the speed against ONNX Runtime fp32 (ORT fp32 ms /
ms: > 1 is faster than ORT fp32), and a final JSON line. A step or engine that fails is reported
on its row and does not stop the rest; --no-nimble times the peers alone.

    bash scripts/install-onnxruntime.sh            # once: the ONNX Runtime peer
    OMP_NUM_THREADS=2 /usr/bin/python3 bench/onnx_peers.py build/nimble [--rounds 3] [--batches 1 32]
        [--models resnet18 mobilenet_v2] [--threads 2] [--work DIR] [--no-nimble] [--no-torch-int8]

Do not run it beside a build or another benchmark: it warns when a compiler is running, and
prints the share of CPU time other processes took while it timed.
"""
import argparse
import contextlib
import copy
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "onnx"))
import torchvision_models  # noqa: E402

ORT_BENCH = ROOT / "tests" / "onnx" / "ort_bench.js"
SIZE = 224
CLASSES = 1000
IMAGENET_MEAN = "0.485,0.456,0.406"
IMAGENET_STD = "0.229,0.224,0.225"
NIMBLE_DEFAULT_VAL = 5000  # validation images `nimble quantize` holds out when the model has no training recipe
step_notes = {}  # family -> remarks on the set-up steps, printed under the table


# --- the nimble steps: the only calls that need nimble's ONNX import/export --------------------

def nimble_import_cmd(nimble, onnx_path, out):
    # pixels/255, then (x - mean) / std per channel: torchvision's ImageNet preprocessing.
    return [nimble, "import", str(onnx_path), "--out", str(out), "--mean", IMAGENET_MEAN, "--std", IMAGENET_STD]


def nimble_quantize_cmd(nimble, model, out, data, calib):
    # --batch/--iters: quantize's own speed check, kept short at 224x224.
    return [nimble, "quantize", str(model), "--out", str(out), "--data", str(data), "--calib", str(calib),
            "--batch", "8", "--iters", "10", "--json"]


def nimble_export_cmd(nimble, model, out):
    return [nimble, "export", str(model), "--out", str(out)]


def nimble_bench_cmd(nimble, model, precision, batch, iters):
    # An int8 model's float layers run in fp32; `precision` only names the row then.
    p = "fp32" if precision == "int8" else precision
    return [nimble, "bench", str(model), "--batch", str(batch), "--iters", str(iters), "--warmup", "5",
            "--precision", p, "--json"]


# --- helpers ---------------------------------------------------------------------------------

class StepFailed(Exception):
    """A command that failed; its message is one line."""


def run(cmd, what, timeout=1800):
    try:
        p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as e:
        raise StepFailed(f"{what}: {e.strerror}: {e.filename}") from None
    except subprocess.TimeoutExpired:
        raise StepFailed(f"{what}: timed out after {timeout} s") from None
    if p.returncode != 0:
        lines = [line for line in (p.stderr or p.stdout).strip().splitlines() if line.strip()]
        raise StepFailed(f"{what}: {lines[-1] if lines else f'exit status {p.returncode}'}")
    return p


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise StepFailed(f"no JSON line in output: {text.strip()[-200:]!r}")


def compilers_running():
    """Names of compiler/build processes on this machine: timings taken beside them are noise."""
    names = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            if comm in ("cc1plus", "cc1", "ld", "ninja", "make", "clang", "clang++", "ctest"):
                names.add(comm)
    return sorted(names)


def cpu_busy_seconds():
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    """CPU seconds of this process and its finished children (every engine ran as one)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


# --- the synthetic calibration set (IDX, what src/data/idx.cpp reads) -------------------------

def write_idx(path, array, type_code):
    """An IDX file: magic 0x0000TTRR, big-endian u32 dims, big-endian elements; atomically."""
    array = np.ascontiguousarray(array)
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    tmp = Path(f"{path}.tmp")
    with open(tmp, "wb") as f:
        f.write(header)
        f.write(array.tobytes())
        f.flush()
        os.fsync(f.fileno())
    tmp.rename(path)


def make_calibration_set(directory, n_train, n_test, size=SIZE, classes=CLASSES, seed=0):
    """Random u8 images (N, size, size, 3) channels-last (IDX rank 4, type u8) and s16 labels
    (IDX type 0x0B: 1000 classes do not fit u8), so both splits together name all `classes`."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        labels = rng.integers(0, classes, n).astype(">i2")
        labels[0] = classes - 1  # the data's class count is its largest label + 1
        write_idx(d / f"{split}-images-idx3-ubyte", images, 0x08)
        write_idx(d / f"{split}-labels-idx1-ubyte", labels, 0x0B)
    return d


# --- ONNX Runtime ----------------------------------------------------------------------------

def ort_median_ms(model, batch, threads, runs):
    p = run(["node", ORT_BENCH, model, f"{batch},3,{SIZE},{SIZE}", threads, runs], f"ONNX Runtime {Path(model).name}")
    return last_json(p.stdout)["median_ms"]


# --- PyTorch, in a worker process per round ---------------------------------------------------

def _fx_int8(torch, model, rng):
    """PyTorch's post-training static int8 (FX graph mode, onednn engine), calibrated on 4 random batches."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.backends.quantized.engine = "onednn"
    example = torch.from_numpy(rng.standard_normal((1, 3, SIZE, SIZE), dtype=np.float32))
    prepared = prepare_fx(copy.deepcopy(model), get_default_qconfig_mapping("onednn"), (example,))
    with torch.no_grad():
        for _ in range(4):
            prepared(torch.from_numpy(rng.standard_normal((8, 3, SIZE, SIZE), dtype=np.float32)))
    return convert_fx(prepared), example


def _first_line(e):
    lines = str(e).strip().splitlines()
    return (lines[0] if lines else type(e).__name__)[:160]


def torch_worker(args):
    """PyTorch on one family, in its own process; prints one JSON object.

    The model is torchvision_models.build(family) with the seed export() uses: the very weights of
    the ONNX file. With --qdq-out: only quantizes (FX int8) and exports that model to QDQ ONNX for
    ONNX Runtime, {"qdq_export": "ok" | {"error": ...}}. Otherwise times fp32, bf16 autocast and
    FX int8 at each batch: {precision: {batch: ms | {"error": ...}} | {"error": ...}}.
    """
    import torch
    torch.set_num_threads(args.threads)
    model = torchvision_models.build(args.torch_worker, seed=0, input_size=SIZE)
    rng = np.random.default_rng(1)
    if args.qdq_out:
        try:
            q, example = _fx_int8(torch, model, rng)
            with torch.no_grad():
                torch.onnx.export(q, (example,), args.qdq_out, opset_version=13, input_names=["input"],
                                  output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
            print(json.dumps({"qdq_export": "ok"}))
        except Exception as e:
            print(json.dumps({"qdq_export": {"error": _first_line(e)}}))
        return 0
    # Channels-last: Debian's PyTorch hands more of these models to oneDNN in it than in NCHW
    # (faster in every case measured here; see the commit adding this file).
    model = model.to(memory_format=torch.channels_last)

    def median_ms(f, batch):
        x = torch.from_numpy(rng.standard_normal((batch, 3, SIZE, SIZE), dtype=np.float32))
        x = x.contiguous(memory_format=torch.channels_last)
        n = args.runs if batch == 1 else args.big_runs
        with torch.no_grad():
            for _ in range(3 if batch == 1 else 1):
                f(x)
            ts = []
            for _ in range(n):
                t = time.perf_counter()
                f(x)
                ts.append(time.perf_counter() - t)
        return statistics.median(ts) * 1e3

    def per_batch(f, context=None):
        r = {}
        for b in args.batches:
            try:
                with context() if context else contextlib.nullcontext():
                    r[str(b)] = median_ms(f, b)
            except Exception as e:  # a configuration the peer cannot run is reported, not hidden
                r[str(b)] = {"error": _first_line(e)}
        return r

    out = {"fp32": per_batch(model),
           "bf16": per_batch(model, lambda: torch.autocast("cpu", dtype=torch.bfloat16))}
    if not args.no_torch_int8:
        try:
            q, _ = _fx_int8(torch, model, rng)
            out["int8"] = per_batch(q)
        except Exception as e:
            out["int8"] = {"error": _first_line(e)}
    print(json.dumps(out))
    return 0


def torch_run(family, args, qdq_out=None):
    cmd = [sys.executable, __file__, "--torch-worker", family, "--threads", args.threads, "--runs", args.runs,
           "--big-runs", args.big_runs, "--batches", *args.batches]
    if args.no_torch_int8:
        cmd.append("--no-torch-int8")
    if qdq_out:
        cmd += ["--qdq-out", qdq_out]
    return last_json(run(cmd, f"PyTorch {family}", timeout=3600).stdout)


# --- main ------------------------------------------------------------------------------------

def prepare(family, args, work):
    """Exports, and runs the nimble steps; returns {name: path or StepFailed}."""
    d = work / family
    files = {}
    t = time.perf_counter()
    files["onnx"] = torchvision_models.export(family, d, opset=13, input_size=SIZE, batch=1, seed=0,
                                              dynamic_batch=True)["model"]
    print(f"[{family}] exported to ONNX in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    if not args.no_torch_int8:
        # PyTorch's own int8 model as QDQ ONNX: an ONNX Runtime int8 figure that needs no nimble.
        try:
            j = torch_run(family, args, qdq_out=d / "torch.int8.onnx")
            r = j.get("qdq_export")
            files["torch_qdq"] = str(d / "torch.int8.onnx") if r == "ok" else StepFailed(
                f"PyTorch's QDQ export failed: {r['error'] if isinstance(r, dict) else r}")
        except StepFailed as e:
            files["torch_qdq"] = e
    if args.no_nimble:
        return files
    steps = [
        ("nimble", nimble_import_cmd(args.nimble, files["onnx"], d / "model.nimble"), d / "model.nimble", "import"),
        ("nimble_int8", nimble_quantize_cmd(args.nimble, d / "model.nimble", d / "model.int8.nimble", work / "calib",
                                            args.calib), d / "model.int8.nimble", "quantize"),
        ("nimble_qdq", nimble_export_cmd(args.nimble, d / "model.int8.nimble", d / "model.int8.onnx"),
         d / "model.int8.onnx", "export"),
    ]
    failed = None
    for key, cmd, out, what in steps:
        if failed:
            files[key] = StepFailed(f"not run: {failed}")
            continue
        try:
            t = time.perf_counter()
            try:
                run(cmd, f"nimble {what}")
            except StepFailed as e:
                # nimble quantize holds out a validation split from the training images: the
                # training recipe's, else 5000 (the default of `nimble train --val`), which an
                # imported model (no recipe) gets. Until it takes that from elsewhere, calibrate
                # from a set that has 5000 images more (~760 MB at 224x224x3, written once).
                if what != "quantize" or "validation split does not fit" not in str(e):
                    raise
                big = work / "calib_val5000"
                if not big.exists():
                    print(f"[{family}] {e}; retrying with {NIMBLE_DEFAULT_VAL} more training images", file=sys.stderr)
                    make_calibration_set(big, args.calib + NIMBLE_DEFAULT_VAL, 32)
                run(nimble_quantize_cmd(args.nimble, d / "model.nimble", out, big, args.calib), f"nimble {what}")
                step_notes.setdefault(family, []).append(
                    f"nimble quantize needed {NIMBLE_DEFAULT_VAL} extra training images (its default validation split)")
            files[key] = str(out)
            print(f"[{family}] nimble {what}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
        except StepFailed as e:
            files[key] = e
            failed = str(e)
            print(f"[{family}] {e}", file=sys.stderr)
    return files


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("nimble", nargs="?", default=str(ROOT / "build" / "nimble"), help="the nimble binary")
    p.add_argument("--models", nargs="+", default=["resnet18", "mobilenet_v2"], choices=list(torchvision_models.FAMILIES))
    p.add_argument("--batches", nargs="+", default=["1", "32"], help="batch sizes (1 is always measured)")
    p.add_argument("--rounds", type=int, default=3, help="rounds alternating the engines; medians over them")
    p.add_argument("--runs", type=int, default=30, help="timed batch-1 calls per engine per round")
    p.add_argument("--big-runs", type=int, default=3, help="timed calls per engine per round at batches > 1")
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    p.add_argument("--calib", type=int, default=256, help="calibration images for nimble quantize")
    p.add_argument("--work", help="keep the models and data here (default: a temporary folder)")
    p.add_argument("--no-nimble", action="store_true", help="time the peers only")
    p.add_argument("--no-torch-int8", action="store_true")
    p.add_argument("--torch-worker", help=argparse.SUPPRESS)
    p.add_argument("--qdq-out", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.batches = sorted({1, *(int(b) for b in args.batches)})
    if args.torch_worker:
        return torch_worker(args)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # nimble, PyTorch workers
    if not args.no_nimble and not (Path(args.nimble).is_file() or shutil.which(args.nimble)):
        p.error(f"nimble binary {args.nimble} not found (pass its path, or --no-nimble)")
    args.nimble = str(Path(args.nimble).resolve()) if Path(args.nimble).is_file() else args.nimble
    busy = compilers_running()
    if busy:
        print(f"warning: {', '.join(busy)} running: timings taken beside a build are unreliable", file=sys.stderr)

    tmp = None
    if args.work:
        work = Path(args.work).resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="onnx_peers_")
        work = Path(tmp.name)
    if not args.no_nimble:
        make_calibration_set(work / "calib", args.calib, 32)
    files = {f: prepare(f, args, work) for f in args.models}

    # (family, engine, precision) -> {batch: [per-round ms]} or an error string
    times, errors = {}, {}

    def record(key, batch, value):
        """A time (ms) for a batch in this round, or with batch None an error message (the first is kept)."""
        if batch is None:
            errors.setdefault(key, value)
        else:
            times.setdefault(key, {}).setdefault(batch, []).append((r, float(value)))

    # The share of the machine other processes took during each round (from /proc/stat, less the
    # CPU time of this process and its children): a round beside another job is not comparable.
    def other_share(busy_before, own_before, t_before):
        return max(0.0, (cpu_busy_seconds() - busy_before) - (own_cpu_seconds() - own_before)) / (
            (time.perf_counter() - t_before) * (os.cpu_count() or 1))

    start = time.perf_counter()
    shares = []
    for r in range(args.rounds):
        round_start = (cpu_busy_seconds(), own_cpu_seconds(), time.perf_counter())
        for family in args.models:
            f = files[family]
            print(f"[round {r + 1}/{args.rounds}] {family}", file=sys.stderr)
            if not args.no_nimble:
                for prec, key in (("fp32", "nimble"), ("bf16", "nimble"), ("int8", "nimble_int8")):
                    k = (family, "nimble", prec)
                    if isinstance(f[key], StepFailed):
                        record(k, None, str(f[key]))
                        continue
                    # One call per batch size > 1; the first one's batch-1 latency is the batch-1 figure.
                    for i, b in enumerate([b for b in args.batches if b > 1] or [1]):
                        try:
                            j = last_json(run(nimble_bench_cmd(args.nimble, f[key], prec, b, args.runs),
                                              f"nimble bench {prec}").stdout)
                            if i == 0:
                                record(k, 1, j["latency_ms_p50"])
                            if b > 1:
                                record(k, b, b / j["throughput_samples_per_s"] * 1e3)
                            if j.get("precision_emulated"):
                                errors.setdefault((family, "nimble", prec + " note"), f"{prec} emulated on this CPU")
                        except (StepFailed, KeyError) as e:
                            record(k, None, str(e))
            engines = [("onnxruntime", "fp32", f["onnx"])]
            if not args.no_nimble:
                engines.append(("onnxruntime", "int8", f["nimble_qdq"]))
            if "torch_qdq" in f:
                engines.append(("onnxruntime", "int8 (torch QDQ)", f["torch_qdq"]))
            for engine, prec, model in engines:
                k = (family, engine, prec)
                if isinstance(model, StepFailed):
                    record(k, None, str(model))
                    continue
                for b in args.batches:
                    try:
                        record(k, b, ort_median_ms(model, b, args.threads, args.runs if b == 1 else max(args.big_runs, 5)))
                    except StepFailed as e:
                        record(k, None, str(e))
            # PyTorch last in the round, in its own process.
            try:
                j = torch_run(family, args)
            except StepFailed as e:
                j = {prec: {"error": str(e)} for prec in ("fp32", "bf16", "int8")}
            for prec in ("fp32", "bf16", "int8"):
                v = j.get(prec)
                if v is None:
                    continue
                if "error" in v:
                    record((family, "pytorch", prec), None, v["error"])
                    continue
                for b in args.batches:
                    if isinstance(v[str(b)], dict):
                        record((family, "pytorch", prec), None, f"batch {b}: {v[str(b)]['error']}")
                    else:
                        record((family, "pytorch", prec), b, v[str(b)])
        shares.append(other_share(*round_start))
        print(f"[round {r + 1}/{args.rounds}] other processes took {shares[-1]:.0%} of the CPU", file=sys.stderr)
    elapsed = time.perf_counter() - start
    busy_after = compilers_running()
    # Medians over the rounds other processes left alone (< 10 % of the CPU), else over all.
    clean = [r for r, share in enumerate(shares) if share < 0.10] or list(range(args.rounds))
    used = lambda values: [v for r, v in values if r in clean]  # noqa: E731

    # The table: one row per family, engine, precision; columns per batch.
    order = [("nimble", "fp32"), ("nimble", "bf16"), ("nimble", "int8"), ("onnxruntime", "fp32"),
             ("onnxruntime", "int8"), ("onnxruntime", "int8 (torch QDQ)"), ("pytorch", "fp32"),
             ("pytorch", "bf16"), ("pytorch", "int8")]
    cpu = cpu_name()
    print(f"\n{cpu}, {args.threads} threads, {args.rounds} round(s) in {elapsed:.0f} s; "
          f"median ms per batch of 3x{SIZE}x{SIZE}, and ORT fp32 ms / ms (> 1: faster than ONNX Runtime fp32)")
    w = max(len(m) for m in args.models + ["model"])
    head = f"{'model':<{w}} {'engine':<12} {'precision':<17}" + "".join(
        f" {'b' + str(b) + ' ms':>10} {'vs ORT':>7}" for b in args.batches)
    print(head)
    results = []
    for family in args.models:
        base = {b: statistics.median(used(v)) for b, v in times.get((family, "onnxruntime", "fp32"), {}).items()
                if used(v)}
        for engine, prec in order:
            k = (family, engine, prec)
            if k not in times and k not in errors:
                continue
            line = f"{family:<{w}} {engine:<12} {prec:<17}"
            row = {"model": family, "engine": engine, "precision": prec}
            for b in args.batches:
                v = used(times.get(k, {}).get(b, []))
                if v:
                    ms = statistics.median(v)
                    ratio = base[b] / ms if b in base else None
                    line += f" {ms:>10.2f} {ratio:>6.2f}x" if ratio else f" {ms:>10.2f} {'-':>7}"
                    row[f"batch{b}_ms"] = round(ms, 3)
                    row[f"batch{b}_rounds_ms"] = [round(x, 3) for _, x in times[k][b]]  # every round
                    if ratio:
                        row[f"batch{b}_vs_ort_fp32"] = round(ratio, 3)
                else:
                    line += f" {'-':>10} {'':>7}"
            notes = [errors[n] for n in ((family, engine, prec), (family, engine, prec + " note")) if n in errors]
            if notes:
                line += "   " + "; ".join(notes)
                row["notes"] = notes
            print(line)
            results.append(row)
    print("(nimble: `nimble bench`, batch 1 = its p50 latency, batch B = B / its throughput; ONNX Runtime: "
          "tests/onnx/ort_bench.js; PyTorch 1.13: in its own process, channels-last; "
          "int8 (torch QDQ): PyTorch's FX int8 model exported to ONNX and run by ONNX Runtime)")
    for family, remarks in step_notes.items():
        for remark in remarks:
            print(f"note: {family}: {remark}")
    print("other processes took " + ", ".join(f"{x:.0%}" for x in shares) + " of the CPU in the rounds; " +
          (f"medians over round(s) {', '.join(str(r + 1) for r in clean)}" if len(clean) < args.rounds
           else "medians over all rounds"))
    if busy or busy_after or min(shares, default=0) >= 0.10:
        print("warning: " + (f"{', '.join(sorted(set(busy) | set(busy_after)))} ran during this benchmark; "
                             if busy or busy_after else "") + "these figures are unreliable")
    print(json.dumps({"bench": "onnx_peers", "cpu": cpu, "threads": args.threads, "rounds": args.rounds,
                      "batches": args.batches, "build_running": bool(busy or busy_after),
                      "other_cpu_share_per_round": [round(x, 3) for x in shares],
                      "rounds_used": [r + 1 for r in clean], "results": results}))
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
