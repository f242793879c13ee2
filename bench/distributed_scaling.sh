#!/usr/bin/env bash
# One machine's data-parallel scaling, side by side (docs/results.md, "Distributed training"):
# the same training (seed, global batch, precision) as 1 process x 1 thread, 1 process x T threads
# and T ranks x 1 thread under mpirun, then per-epoch losses, accuracies and throughput.
# Usage: bench/distributed_scaling.sh NIMBLE MODEL EPOCHS [extra train flags...]
set -euo pipefail
nimble=$(realpath "$1")
model=$2
epochs=$3
shift 3
ranks=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
train=(train --model "$model" --epochs "$epochs" --precision bf16 --seed 0 --json "$@")
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x OMP_NUM_THREADS=1
        --mca btl self,vader --mca btl_vader_single_copy_mechanism none)
OMP_NUM_THREADS=1 "$nimble" "${train[@]}" --out a.nimble > one-thread.json 2> /dev/null
OMP_NUM_THREADS=$ranks "$nimble" "${train[@]}" --out b.nimble > threads.json 2> /dev/null
"${mpirun[@]}" -np "$ranks" "$nimble" "${train[@]}" --out c.nimble > ranks.json 2> /dev/null
python3 - "$model" "$ranks" one-thread.json threads.json ranks.json <<'PY'
import json, sys
model, n = sys.argv[1], int(sys.argv[2])
names = ["1 process x 1 thread", f"1 process x {n} threads", f"{n} ranks x 1 thread"]
runs = [json.load(open(p)) for p in sys.argv[3:]]
print(f"| {model} | " + " | ".join(names) + " |")
print("| --- | --- | --- | --- |")
for e in range(len(runs[0]["history"])):
    print(f"| epoch {e + 1} train loss / val acc | " + " | ".join(
        f"{r['history'][e]['train_loss']:.4f} / {100 * r['history'][e]['val_accuracy']:.2f} %" for r in runs) + " |")
print("| test accuracy | " + " | ".join(f"{100 * r['test_accuracy']:.2f} %" for r in runs) + " |")
base = runs[0]["train_samples_per_s"]
print("| training samples/s (x one thread) | " + " | ".join(
    f"{r['train_samples_per_s']:.0f} ({r['train_samples_per_s'] / base:.2f}x)" for r in runs) + " |")
print(f"| scaling efficiency (speed-up / {n}) | 100 % | " + " | ".join(
    f"{100 * r['train_samples_per_s'] / base / n:.0f} %" for r in runs[1:]) + " |")
PY
