#!/usr/bin/env python3
"""What issue 21 checks of `nimble search`, run end to end on Fashion-MNIST.

1. `nimble search --out DIR` (its stages are reused when DIR already holds them): the latency
   predictor's error on 50 held-out subnets, NSGA-II against random search, the wall time.
2. The budget: `nimble search --out DIR --max-latency-ms B` for B the front's median predicted latency;
   the chosen model's measured batch-1 latency against 1.05 x B.
3. Supernet quality: 8 architectures spread over the measured ones' inherited accuracy, each trained
   alone from scratch for the supernet's epochs (`nimble train --model searched:ARCH`, the supernet's
   recipe: no augmentation, label smoothing 0.1, lr 0.05) and each extracted from the supernet and
   fine-tuned for --finetune-epochs (`nimble search --arch ARCH --finetune-epochs F`): Kendall tau between
   inherited and standalone validation accuracy; extracted-and-fine-tuned against standalone test accuracy.
4. Against hand design, the same epoch budget for both: `mobilenet_v2` at widths 0.35, 0.5, 0.75 and 1.0
   and the front's `--select` architectures, each trained from scratch for --compare-epochs (default: the
   supernet's) with the same recipe; each pair timed in alternation in one process (`nimble bench A
   --compare B`). A width is beaten when some searched architecture is at least as accurate on the test
   split and no slower. The front's models extracted from the supernet and fine-tuned --finetune-epochs
   are reported beside them (what the supernet gives without training from scratch).
   Models trained by an earlier run in --work are taken back (their training report is kept beside them).

    OMP_NUM_THREADS=2 /usr/bin/python3 bench/nas_check.py build/nimble --work /tmp/nas [--finetune-epochs 2]
        [--twins 8] [--select 4] [--compare-epochs N] [--skip-twins] [--skip-mobilenet]

Prints one line per measurement and a JSON summary last. Do not run it beside a build: it times models.
"""
import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time

RECIPE = ["--crop-padding", "0", "--hflip", "0", "--label-smoothing", "0.1", "--lr", "0.05", "--precision", "bf16"]


def run(cmd):
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit("failed: " + " ".join(cmd) + "\n" + p.stderr[-2000:])
    return json.loads(p.stdout), time.time() - t0


def kendall_tau(a, b):
    n, s = len(a), 0
    for i in range(n):
        for j in range(i + 1, n):
            x, y = a[i] - a[j], b[i] - b[j]
            s += (x > 0) - (x < 0) if y > 0 else ((x < 0) - (x > 0) if y < 0 else 0)
    return 2.0 * s / (n * (n - 1))


def spread(rows, k):
    """k rows spread evenly over the inherited-accuracy order."""
    rows = sorted(rows, key=lambda r: float(r["val_accuracy"]))
    return [rows[round(i * (len(rows) - 1) / (k - 1))] for i in range(k)]


def trained(nb, work, name, model, extra, epochs):
    """`model` trained from scratch with RECIPE for `epochs` as WORK/NAME-Eep.nimble. The training report is kept
    beside it, so a rerun of this script takes a finished model back instead of training it again."""
    path = os.path.join(work, f"{name}-{epochs}ep.nimble")
    if os.path.exists(path + ".json"):
        return path, json.load(open(path + ".json"))["test_accuracy"]
    rep, _ = run([nb, "train", "--model", model, "--epochs", str(epochs), "--json", "--out", path] + extra + RECIPE)
    with open(path + ".json", "w") as f:
        json.dump(rep, f)
    return path, rep["test_accuracy"]


def against_hand_design(nb, work, out, a, epochs):
    front, _ = run([nb, "search", "--out", out, "--select", str(a.select), "--finetune-epochs",
                    str(a.finetune_epochs), "--json"])
    searched = []
    for m in front["models"]:
        path, acc = trained(nb, work, "scratch-" + m["arch"], "searched:" + m["arch"], [], epochs)
        searched.append({"arch": m["arch"], "path": path, "test_accuracy": acc,
                         "extracted_finetuned_test": m["test_accuracy"]})
        print(f"searched {m['arch']}: {epochs} epochs from scratch {100 * acc:.2f} %, extracted + "
              f"{a.finetune_epochs} epochs {100 * m['test_accuracy']:.2f} %")
    results = []
    for w in ["0.35", "0.5", "0.75", "1.0"]:
        path, acc = trained(nb, work, "mobilenet_v2-" + w, "mobilenet_v2", ["--width", w], epochs)
        beaten, beaten_finetuned = None, None
        for s in searched:
            cmp, _ = run([nb, "bench", s["path"], "--compare", path, "--json"])
            faster = cmp["speedup_batch1"] >= 1.0
            print(f"mobilenet_v2 {w} ({100 * acc:.2f} %) vs {s['arch']} ({100 * s['test_accuracy']:.2f} %, extracted "
                  f"{100 * s['extracted_finetuned_test']:.2f} %): searched batch-1 speed-up {cmp['speedup_batch1']:.2f}x")
            win = {"arch": s["arch"], "speedup_batch1": cmp["speedup_batch1"], "test_accuracy": s["test_accuracy"]}
            if faster and s["test_accuracy"] >= acc and beaten is None:
                beaten = win
            if faster and s["extracted_finetuned_test"] >= acc and beaten_finetuned is None:
                beaten_finetuned = win
        results.append({"width": w, "epochs": epochs, "test_accuracy": acc, "beaten_by": beaten,
                        "beaten_by_extracted_finetuned": beaten_finetuned})
        print(f"mobilenet_v2 {w}: " + (f"beaten by {beaten['arch']}" if beaten else "not beaten") +
              " (extracted and fine-tuned: " + ("beaten" if beaten_finetuned else "not beaten") + ")")
    print(f"beaten: {sum(r['beaten_by'] is not None for r in results)} of 4 widths with {epochs} epochs each")
    return {"searched": searched, "widths": results}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("nimble")
    ap.add_argument("--work", default="/tmp/nas-check")
    ap.add_argument("--finetune-epochs", type=int, default=2)
    ap.add_argument("--twins", type=int, default=8)
    ap.add_argument("--select", type=int, default=4)
    ap.add_argument("--compare-epochs", type=int, default=0)
    ap.add_argument("--skip-twins", action="store_true")
    ap.add_argument("--skip-mobilenet", action="store_true")
    a = ap.parse_args()
    nb, work = a.nimble, a.work
    out = os.path.join(work, "search")
    os.makedirs(work, exist_ok=True)
    summary = {"cpu": platform.processor() or open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0]}

    rep, secs = run([nb, "search", "--out", out, "--json"])
    epochs = rep["supernet"]["epochs"]
    lat, srch = rep["latency"], rep["search"]
    print(f"search: {secs:.0f} s this call ({rep['seconds']:.0f} s in the library); latency MAPE "
          f"{100 * lat['mape']:.2f} %, within 10 % {100 * lat['within_10_percent']:.0f} %, tau {lat['kendall_tau']:.3f}, "
          f"noise {100 * lat['median_noise']:.1f} %; NSGA-II reached random's final hypervolume after "
          f"{srch['nsga2_evaluations_to_random_final']} of {srch['nsga2_evaluations']} evaluations "
          f"(random: {srch['random_evaluations']})")
    summary["search"] = rep

    rows = list(csv.DictReader(open(os.path.join(out, "front.csv"))))
    budget = sorted(float(r["latency_ms"]) for r in rows)[len(rows) // 2]
    b, _ = run([nb, "search", "--out", out, "--max-latency-ms", f"{budget:.4f}", "--json"])
    m = b["models"][0]
    print(f"budget {budget:.4f} ms: chose {m['arch']}, measured {m['measured_latency_ms']:.4f} ms "
          f"({m['measured_latency_ms'] / budget:.3f} x budget), test accuracy {100 * m['test_accuracy']:.2f} %")
    summary["budget"] = {"max_latency_ms": budget, "model": m}

    if not a.skip_twins:
        evaluated = list(csv.DictReader(open(os.path.join(out, "evaluations.csv"))))
        twins = []
        for r in spread(evaluated, a.twins):
            arch = r["arch"]
            alone, _ = run([nb, "train", "--model", "searched:" + arch, "--epochs", str(epochs), "--json", "--out",
                            os.path.join(work, f"alone-{arch}.nimble")] + RECIPE)
            ext, _ = run([nb, "search", "--out", out, "--arch", arch, "--finetune-epochs", str(a.finetune_epochs),
                          "--json"])
            t = {"arch": arch, "inherited_val": float(r["val_accuracy"]), "alone_val": alone["val_accuracy"],
                 "alone_test": alone["test_accuracy"], "extracted_finetuned_test": ext["models"][0]["test_accuracy"]}
            print(f"twin {arch}: inherited {100 * t['inherited_val']:.2f} %, alone val {100 * t['alone_val']:.2f} "
                  f"test {100 * t['alone_test']:.2f} %, extracted + {a.finetune_epochs} epochs test "
                  f"{100 * t['extracted_finetuned_test']:.2f} %")
            twins.append(t)
        tau = kendall_tau([t["inherited_val"] for t in twins], [t["alone_val"] for t in twins])
        gaps = [t["alone_test"] - t["extracted_finetuned_test"] for t in twins]
        print(f"supernet: Kendall tau inherited vs standalone {tau:.3f}; standalone minus extracted+fine-tuned "
              f"test accuracy: max {100 * max(gaps):.2f}, mean {100 * sum(gaps) / len(gaps):.2f} points")
        summary["twins"] = {"tau": tau, "twins": twins}

    if not a.skip_mobilenet:
        summary["mobilenet_v2"] = against_hand_design(nb, work, out, a, a.compare_epochs or epochs)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
