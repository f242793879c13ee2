#!/usr/bin/env bash
# Side-by-side: nimble vs PyTorch (../shared/peers/torch_fmnist.py, Debian python3-torch) training
# and inference on Fashion-MNIST with the same model, data, batch, optimizer and epochs, in one run.
# Prints a table and a final JSON line with the ratios (nimble / PyTorch; > 1 means nimble is faster).
#
#   bash bench/compare_pytorch.sh [--epochs N] [--limit N] [--models "cnn mobilenet_v2"]
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=1
limit=0
models="cnn mobilenet_v2"
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    *) echo "error: unknown argument $1 (expected --epochs N, --limit N, --models LIST)" >&2; exit 2 ;;
  esac
done
peer="${NIMBLE_PEERS:-../shared/peers}/torch_fmnist.py"
[ -f "$peer" ] || { echo "error: PyTorch peer script not found at $peer (set NIMBLE_PEERS)" >&2; exit 2; }
bash scripts/install-deps.sh --peers >&2
bash scripts/build.sh >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OMP_NUM_THREADS=2
rows=()
ratios="{}"
for model in $models; do
  width=1.0
  [ "$model" = mobilenet_v2 ] && width=0.5
  # Same recipe on both sides: SGD lr 0.05, momentum 0.9, Nesterov, weight decay 5e-4, constant
  # learning rate, batch 128, no augmentation, no label smoothing, all training samples.
  build/nimble train --model "$model" --width "$width" --epochs "$epochs" --batch 128 --lr 0.05 \
    --schedule constant --label-smoothing 0 --crop-padding 0 --hflip 0 --val 0 --limit "$limit" \
    --out "$out/$model.nimble" --json --quiet > "$out/nimble_train.json"
  build/nimble bench "$out/$model.nimble" --batch 256 --iters 50 --json > "$out/nimble_bench.json"
  /usr/bin/python3 "$peer" --model "$model" --width "$width" --epochs "$epochs" --batch 128 \
    --limit "$limit" --data /usr/share/datasets/fashion-mnist/ > "$out/torch.jsonl"
  n_train=$(jq .train_samples_per_s "$out/nimble_train.json")
  n_acc=$(jq .test_accuracy "$out/nimble_train.json")
  n_b1=$(jq .latency_ms_p50 "$out/nimble_bench.json")
  n_b256=$(jq '256 / .throughput_samples_per_s * 1000' "$out/nimble_bench.json")
  t_train=$(grep '"epoch"' "$out/torch.jsonl" | jq -s 'map(.train_samples_per_s) | add / length')
  t_acc=$(grep '"epoch"' "$out/torch.jsonl" | tail -1 | jq .test_accuracy)
  t_b1=$(grep '"inference"' "$out/torch.jsonl" | jq .inference.batch1.fp32_ms)
  t_b256=$(grep '"inference"' "$out/torch.jsonl" | jq .inference.batch256.fp32_ms)
  rows+=("$(printf '%-14s %-8s %12.0f %12.0f %8.2fx %9.3f %9.3f %8.2fx %9.2f %9.2f %8.2fx %7.4f %7.4f' \
    "$model" "$width" "$n_train" "$t_train" "$(jq -n "$n_train / $t_train")" "$n_b1" "$t_b1" "$(jq -n "$t_b1 / $n_b1")" \
    "$n_b256" "$t_b256" "$(jq -n "$t_b256 / $n_b256")" "$n_acc" "$t_acc")")
  ratios=$(jq -c --arg m "$model" --argjson tr "$(jq -n "$n_train / $t_train")" --argjson b1 "$(jq -n "$t_b1 / $n_b1")" \
    --argjson b256 "$(jq -n "$t_b256 / $n_b256")" \
    '. + {($m): {train_samples_per_s_ratio: $tr, batch1_latency_speedup: $b1, batch256_speedup: $b256}}' <<< "$ratios")
done
printf '\n%-14s %-8s %12s %12s %9s %9s %9s %9s %9s %9s %9s %7s %7s\n' model width "nimble/s" "torch/s" "train" \
  "n b1 ms" "t b1 ms" "b1" "n b256ms" "t b256ms" "b256" "n acc" "t acc"
for r in "${rows[@]}"; do echo "$r"; done
echo "(training samples/s over $epochs epoch(s), fp32, OMP_NUM_THREADS=2; ratios: nimble faster when > 1)"
jq -c --arg e "$epochs" --arg l "$limit" '{bench: "nimble_vs_pytorch_fp32", epochs: ($e | tonumber), limit: ($l | tonumber), ratios: .}' <<< "$ratios"
