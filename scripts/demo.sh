#!/usr/bin/env bash
# The main job: install, build, then `nimble optimize` on Fashion-MNIST: train a teacher, distil a
# small student from it, quantize it (and prune, given a latency goal), and write the recommended
# model (optimized/model.nimble and .onnx) with a report (optimized/report.html). Extra arguments go
# to `nimble optimize` (e.g. --preset quick, --max-drop 0.5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# What the run and the Python quick start need; the tests are built by scripts/test.sh.
bash scripts/build.sh nimble_cli nimble_python nimble_mpi
build/nimble optimize --out optimized "$@"
# The stages and the result at a glance, from the report (jq is installed by install-deps.sh).
jq -r --arg html "$PWD/optimized/report.html" '
  def pct: (. * 10000 | round) / 100 | tostring + " %";
  def ms: (. * 10000 | round) / 10000 | tostring + " ms";
  "\nnimble optimize: " + (.seconds | floor | tostring) + " s\n" +
  (.stages | map("  " + (.name + "          ")[0:10] + (.status + "          ")[0:10] + .reason) | join("\n")) + "\n" +
  (.candidates[] | select(.recommended) | "recommended: " + .label + ": " + (.test_accuracy | pct) +
    " test accuracy, batch-1 " + (.latency_ms_p50 | ms) + ", " + (.params | tostring) + " parameters, " +
    (.size_bytes | tostring) + " bytes") + "\n" +
  "against the fp32 teacher, timed side by side: " + (.latency_ms_side_by_side | ms) + " vs " +
  (.teacher_latency_ms_side_by_side | ms) + " (" + ((.speedup_vs_teacher * 100 | round) / 100 | tostring) + "x)\n" +
  "model: " + .model + " and " + .onnx + "\nreport: " + $html' optimized/report.json
