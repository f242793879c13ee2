#!/usr/bin/env bash
# The main job: install, build, train the default model (cnn) on Fashion-MNIST, evaluate it,
# benchmark it, quantize it to int8, prune half its channels (with two epochs of fine-tuning),
# and print a summary table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
mkdir -p runs
build/nimble train --model cnn --out runs/cnn.nimble --json "$@" | tee runs/train.json
build/nimble eval runs/cnn.nimble --json | tee runs/eval.json
build/nimble bench runs/cnn.nimble --json | tee runs/bench.json
build/nimble quantize runs/cnn.nimble --out runs/cnn-int8.nimble --json | tee runs/quantize.json
build/nimble prune runs/cnn.nimble --out runs/cnn-pruned.nimble --method channel --ratio 0.5 --finetune-epochs 2 --json |
  jq -c 'del(.layers)' | tee runs/prune.json
# Summary table (jq is installed by install-deps.sh).
jq -rs '.[0] as $t | .[1] as $e | .[2] as $b | .[3] as $q | .[4] as $p | [
  ["model", $t.model],
  ["params", ($t.params | tostring)],
  ["MACs / sample", ($t.macs | tostring)],
  ["epochs", ($t.epochs | tostring)],
  ["precision", $t.precision + " (" + $t.precision_reason + ")"],
  ["train samples/s", ($t.train_samples_per_s | floor | tostring)],
  ["test accuracy", (($e.test_accuracy * 10000 | round) / 100 | tostring) + " %"],
  ["batch-1 latency p50 / p99", (($b.latency_ms_p50 * 1000 | round) / 1000 | tostring) + " / " + (($b.latency_ms_p99 * 1000 | round) / 1000 | tostring) + " ms"],
  ["batch-\($b.batch) throughput", ($b.throughput_samples_per_s | floor | tostring) + " samples/s"],
  ["achieved GFLOP/s", (($b.gflops_per_s * 10 | round) / 10 | tostring)],
  ["checkpoint", $t.checkpoint + " (" + ($b.size_bytes | tostring) + " bytes)"],
  ["int8 test accuracy", (($q.test_accuracy_int8 * 10000 | round) / 100 | tostring) + " % (fp32 " + (($q.test_accuracy_fp32 * 10000 | round) / 100 | tostring) + " %)"],
  ["int8 batch-1 latency", (($q.latency_ms_int8 * 1000 | round) / 1000 | tostring) + " ms (fp32 " + (($q.latency_ms_fp32 * 1000 | round) / 1000 | tostring) + " ms)"],
  ["int8 batch-\($q.batch) throughput", ($q.throughput_int8 | floor | tostring) + " samples/s (fp32 " + ($q.throughput_fp32 | floor | tostring) + ")"],
  ["int8 checkpoint", $q.checkpoint + " (" + ($q.size_bytes_int8 | tostring) + " bytes)"],
  ["pruned (50% channels)", "MACs " + ($p.macs_after | tostring) + " (was " + ($p.macs_before | tostring) + "), params " + ($p.params_after | tostring)],
  ["pruned test accuracy", (($p.test_accuracy_after * 10000 | round) / 100 | tostring) + " % (before " + (($p.test_accuracy_before * 10000 | round) / 100 | tostring) + " %)"],
  ["pruned batch-1 latency", (($p.latency_ms_after * 1000 | round) / 1000 | tostring) + " ms (before " + (($p.latency_ms_before * 1000 | round) / 1000 | tostring) + " ms)"],
  ["pruned checkpoint", $p.checkpoint + " (" + ($p.size_bytes_after | tostring) + " bytes)"]
] | "\nnimble summary\n" + (map("  " + (.[0] + "                              ")[0:28] + .[1]) | join("\n"))' runs/train.json runs/eval.json runs/bench.json runs/quantize.json runs/prune.json
