#!/usr/bin/env bash
# Side-by-side: nimble vs PyTorch (bench/peers/torch_fmnist.py, Debian python3-torch, run through
# bench/torch_peer.py so that its mobilenet_v2 can train in bf16) training
# and inference on Fashion-MNIST with the same model, data, batch, optimizer and epochs, in one run,
# in fp32 and in bf16 (nimble --precision bf16 vs PyTorch bf16 autocast); then int8 inference of
# the fp32 models (nimble quantize vs PyTorch FX post-training quantization, onednn engine), and
# nimble int8 vs fp32 for resnet and mobilenet_v2 at full width, at Fashion-MNIST size (batch 1
# and 256) and at ImageNet size (3x224x224, batch 1).
# Prints tables and a final JSON line with the ratios (> 1 means nimble / int8 is faster).
#
#   bash bench/compare_pytorch.sh [--epochs N] [--limit N] [--models "cnn mobilenet_v2"]
#                                 [--precisions "fp32 bf16"] [--no-int8]
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=1
limit=0
models="cnn mobilenet_v2"
precisions="fp32 bf16"
int8=1
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --precisions) precisions="$2"; shift 2 ;;
    --no-int8) int8=0; shift ;;
    *) echo "error: unknown argument $1 (expected --epochs N, --limit N, --models LIST, --precisions LIST, --no-int8)" >&2; exit 2 ;;
  esac
done
for p in $precisions; do
  case "$p" in fp32|bf16) ;; *) echo "error: precision '$p' is not fp32 or bf16 (the PyTorch peer has no other)" >&2; exit 2 ;; esac
done
peer="${NIMBLE_PEERS:-bench/peers}/torch_fmnist.py"
[ -f "$peer" ] || { echo "error: PyTorch peer script not found at $peer (set NIMBLE_PEERS)" >&2; exit 2; }
bash scripts/install-deps.sh >&2
bash scripts/build.sh >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OMP_NUM_THREADS=2
rows=()
int8_rows=()
ratios="{}"
# int8 against fp32: one `nimble bench --compare` / `--int8` run times both models in alternation
# in one process (this machine's speed drifts by tens of percent between seconds, so separately
# timed runs once read 2.8x where adjacent ones read 3.6x); three such runs, each figure the median
# of its three. Writes $out/$1.json with the int8 model's and the float baseline's median batch-1
# latency and big-batch throughput. Usage: timed_pair NAME BENCH ARGS...
timed_pair() {
  local name="$1"; shift
  for i in 1 2 3; do build/nimble bench "$@" --json > "$out/$name.$i.json" 2>/dev/null; done
  jq -s 'def med(f): map(f) | sort | .[1];
         {int8: {latency_ms_p50: med(.latency_ms_p50), throughput_samples_per_s: med(.throughput_samples_per_s)},
          fp32: {latency_ms_p50: med(.baseline.latency_ms_p50),
                 throughput_samples_per_s: med(.baseline.throughput_samples_per_s)},
          speedup_batch1: med(.speedup_batch1), speedup_big_batch: med(.speedup_big_batch)}' \
    "$out/$name".[123].json > "$out/$name.json"
}
# The median training samples/s of one precision's runs of the current model (one or three).
median_train() {
  local runs=("$out/nimble_train.$1.json")
  [ -f "$out/nimble_train.$1.2.json" ] && runs+=("$out/nimble_train.$1".[23].json)
  jq -s 'map(.train_samples_per_s) | sort | .[(length - 1) / 2 | floor]' "${runs[@]}"
}
for model in $models; do
  width=1.0
  [ "$model" = mobilenet_v2 ] && width=0.5
  for prec in $precisions; do
    # Same recipe on both sides: SGD lr 0.05, momentum 0.9, Nesterov, weight decay 5e-4, constant
    # learning rate, batch 128, no augmentation, no label smoothing, all training samples.
    build/nimble train --model "$model" --width "$width" --epochs "$epochs" --batch 128 --lr 0.05 \
      --schedule constant --label-smoothing 0 --crop-padding 0 --hflip 0 --val 0 --limit "$limit" \
      --precision "$prec" --out "$out/$model.$prec.nimble" --json --quiet > "$out/nimble_train.$prec.json"
    # Low precision is also timed against the same model in fp32, in alternation in one process;
    # three such runs, each figure the median of its three (as for int8 below).
    compare=()
    [ "$prec" = fp32 ] || compare=(--compare-precision fp32)
    for i in 1 2 3; do
      build/nimble bench "$out/$model.$prec.nimble" --batch 256 --iters 50 --precision "$prec" "${compare[@]}" --json \
        > "$out/nimble_bench.$prec.$i.json"
    done
    jq -s 'def med(f): map(f) | sort | .[1];
           {latency_ms_p50: med(.latency_ms_p50), throughput_samples_per_s: med(.throughput_samples_per_s),
            speedup_big_batch: med(.speedup_big_batch // 1)}' "$out/nimble_bench.$prec".[123].json \
      > "$out/nimble_bench.$prec.json"
    # A peer that cannot run a configuration is reported, not hidden, and does not stop the bench.
    # bench/torch_peer.py: the peer with ReLU6 as a clamp, which Debian's torch can train in bf16.
    if ! /usr/bin/python3 bench/torch_peer.py "$peer" --model "$model" --width "$width" --epochs "$epochs" --batch 128 \
      --limit "$limit" --precision "$prec" --data /usr/share/datasets/fashion-mnist/ > "$out/torch.$prec.jsonl" \
      2> "$out/torch.$prec.err"; then
      echo "PyTorch $model $prec failed: $(tail -1 "$out/torch.$prec.err")" >&2
    fi
  done
  # nimble's training speed in each precision: the runs above are minutes apart and this machine's
  # speed drifts by tens of percent, so with fp32 among the precisions two more runs of each go in
  # alternation (same command, model not kept) and every figure below is the median of three.
  if [[ " $precisions " == *" fp32 "* ]]; then
    for i in 2 3; do
      for prec in $precisions; do
        build/nimble train --model "$model" --width "$width" --epochs "$epochs" --batch 128 --lr 0.05 \
          --schedule constant --label-smoothing 0 --crop-padding 0 --hflip 0 --val 0 --limit "$limit" \
          --precision "$prec" --out "$out/again.nimble" --json --quiet > "$out/nimble_train.$prec.$i.json"
      done
    done
  fi
  for prec in $precisions; do
    n_train=$(median_train "$prec")
    # Against nimble's own fp32 in the same run (1 for the fp32 row).
    vs_train=1; vs_b256=1
    if [ -f "$out/nimble_train.fp32.json" ]; then
      vs_train=$(jq -n "$n_train / $(median_train fp32)")
      vs_b256=$(jq '.speedup_big_batch // 1' "$out/nimble_bench.$prec.json")
    fi
    if ! grep -q '"inference"' "$out/torch.$prec.jsonl"; then
      why=$(tail -1 "$out/torch.$prec.err" | cut -c1-100)
      rows+=("$(printf '%-13s %-5s %-5s %9.0f %9s %8s %7.2fx %17s %26s %6.2fx   PyTorch failed: %s' "$model" "$width" \
        "$prec" "$n_train" - - "$vs_train" "" "" "$vs_b256" "$why")")
      ratios=$(jq -c --arg m "$model" --arg p "$prec" --arg e "$why" --argjson vtr "$vs_train" --argjson vb "$vs_b256" \
        '.[$m][$p] = {peer_error: $e, train_vs_nimble_fp32: $vtr, batch256_vs_nimble_fp32: $vb}' <<< "$ratios")
      continue
    fi
    n_acc=$(jq .test_accuracy "$out/nimble_train.$prec.json")
    n_b1=$(jq .latency_ms_p50 "$out/nimble_bench.$prec.json")
    n_b256=$(jq '256 / .throughput_samples_per_s * 1000' "$out/nimble_bench.$prec.json")
    t_train=$(grep '"epoch"' "$out/torch.$prec.jsonl" | jq -s 'map(.train_samples_per_s) | add / length')
    t_acc=$(grep '"epoch"' "$out/torch.$prec.jsonl" | tail -1 | jq .test_accuracy)
    t_b1=$(grep '"inference"' "$out/torch.$prec.jsonl" | jq ".inference.batch1.${prec}_ms")
    t_b256=$(grep '"inference"' "$out/torch.$prec.jsonl" | jq ".inference.batch256.${prec}_ms")
    rows+=("$(printf '%-13s %-5s %-5s %9.0f %9.0f %7.2fx %7.2fx %8.3f %8.3f %6.2fx %8.2f %8.2f %6.2fx %6.2fx %7.4f %7.4f' \
      "$model" "$width" "$prec" "$n_train" "$t_train" "$(jq -n "$n_train / $t_train")" "$vs_train" \
      "$n_b1" "$t_b1" "$(jq -n "$t_b1 / $n_b1")" "$n_b256" "$t_b256" "$(jq -n "$t_b256 / $n_b256")" "$vs_b256" \
      "$n_acc" "$t_acc")")
    ratios=$(jq -c --arg m "$model" --arg p "$prec" --argjson tr "$(jq -n "$n_train / $t_train")" \
      --argjson b1 "$(jq -n "$t_b1 / $n_b1")" --argjson b256 "$(jq -n "$t_b256 / $n_b256")" \
      --argjson vtr "$vs_train" --argjson vb "$vs_b256" \
      '.[$m][$p] = {train_vs_torch: $tr, batch1_vs_torch: $b1, batch256_vs_torch: $b256,
                    train_vs_nimble_fp32: $vtr, batch256_vs_nimble_fp32: $vb}' <<< "$ratios")
  done
  # int8: the fp32 model of this run quantized by nimble (default observer, speed gate) against
  # nimble fp32 and against the PyTorch peer's FX int8 of its own fp32 model, batch 1 and 256.
  if [ "$int8" = 1 ] && [ -f "$out/nimble_train.fp32.json" ]; then
    build/nimble quantize "$out/$model.fp32.nimble" --out "$out/$model.int8.nimble" --batch 256 --json \
      > "$out/nimble_quant.json" 2> "$out/nimble_quant.err"
    timed_pair q "$out/$model.int8.nimble" --compare "$out/$model.fp32.nimble" --batch 256 --iters 200 --precision fp32
    q_b1=$(jq .int8.latency_ms_p50 "$out/q.json")
    q_b256=$(jq '256 / .int8.throughput_samples_per_s * 1000' "$out/q.json")
    f_b1=$(jq .fp32.latency_ms_p50 "$out/q.json")
    f_b256=$(jq '256 / .fp32.throughput_samples_per_s * 1000' "$out/q.json")
    t_q1=$(grep -s '"inference"' "$out/torch.fp32.jsonl" | jq '.inference.batch1.int8_ms // "null"' || echo null)
    t_q256=$(grep -s '"inference"' "$out/torch.fp32.jsonl" | jq '.inference.batch256.int8_ms // "null"' || echo null)
    [ -n "$t_q1" ] || t_q1=null
    [ -n "$t_q256" ] || t_q256=null
    vs_t1=null; vs_t256=null
    [ "$t_q1" != null ] && vs_t1=$(jq -n "$t_q1 / $q_b1")
    [ "$t_q256" != null ] && vs_t256=$(jq -n "$t_q256 / $q_b256")
    int8_rows+=("$(printf '%-13s %-5s %7.4f %7.4f %8.3f %8.3f %8s %6.2fx %6sx %8.2f %8.2f %8s %6.2fx %6sx %9d %9d %s' \
      "$model" "$width" "$(jq .test_accuracy_fp32 "$out/nimble_quant.json")" "$(jq .test_accuracy_int8 "$out/nimble_quant.json")" \
      "$q_b1" "$f_b1" "$t_q1" "$(jq .speedup_batch1 "$out/q.json")" "$(printf '%.2f' "$vs_t1" 2>/dev/null || echo -)" \
      "$q_b256" "$f_b256" "$t_q256" "$(jq .speedup_big_batch "$out/q.json")" "$(printf '%.2f' "$vs_t256" 2>/dev/null || echo -)" \
      "$(jq .size_bytes_fp32 "$out/nimble_quant.json")" "$(jq .size_bytes_int8 "$out/nimble_quant.json")" \
      "$(jq -c .layers_kept_float "$out/nimble_quant.json")")")
    ratios=$(jq -c --arg m "$model" --argjson b1 "$(jq .speedup_batch1 "$out/q.json")" --argjson b256 "$(jq .speedup_big_batch "$out/q.json")" \
      --argjson t1 "$vs_t1" --argjson t256 "$vs_t256" \
      --argjson drop "$(jq '(.test_accuracy_fp32 - .test_accuracy_int8) * 100' "$out/nimble_quant.json")" \
      --argjson size "$(jq '.size_bytes_fp32 / .size_bytes_int8' "$out/nimble_quant.json")" \
      '.[$m].int8 = {batch1_vs_nimble_fp32: $b1, batch256_vs_nimble_fp32: $b256, batch1_vs_torch_int8: $t1,
                     batch256_vs_torch_int8: $t256, accuracy_drop_points: $drop, size_ratio: $size}' <<< "$ratios")
  fi
done
# The zoo's other models at full width, nimble int8 (calibrated on random images: speed only) vs
# fp32: at Fashion-MNIST size, batch 1 and 256; at ImageNet size (1000 classes), batch 1.
big_rows=()
if [ "$int8" = 1 ]; then
  for spec in resnet:1x28x28:256 mobilenet_v2:1x28x28:256 mobilenet_v2:3x224x224:8 resnet:3x224x224:8; do
    IFS=: read -r model input batch <<< "$spec"
    classes=10
    [ "$input" = 3x224x224 ] && classes=1000
    args=(--model "$model" --input "$input" --classes "$classes" --batch "$batch" --iters 100 --precision fp32)
    timed_pair big "${args[@]}" --int8
    b32=$(jq .fp32.latency_ms_p50 "$out/big.json"); b8=$(jq .int8.latency_ms_p50 "$out/big.json")
    t32=$(jq .fp32.throughput_samples_per_s "$out/big.json"); t8=$(jq .int8.throughput_samples_per_s "$out/big.json")
    r1=$(jq .speedup_batch1 "$out/big.json"); rb=$(jq .speedup_big_batch "$out/big.json")
    big_rows+=("$(printf '%-13s %-10s %10.3f %10.3f %7.2fx %6d %10.0f %10.0f %7.2fx' "$model" "$input" "$b32" "$b8" \
      "$r1" "$batch" "$t32" "$t8" "$rb")")
    ratios=$(jq -c --arg m "$model" --arg i "$input" --argjson r "$r1" --argjson t "$rb" \
      '.int8_vs_fp32[$m + " " + $i] = {batch1: $r, big_batch: $t}' <<< "$ratios")
  done
fi
printf '\n%-13s %-5s %-5s %9s %9s %8s %8s %8s %8s %7s %8s %8s %7s %7s %7s %7s\n' model width prec "nimble/s" "torch/s" \
  "vs torch" "vs n32" "n b1 ms" "t b1 ms" "b1" "n b256ms" "t b256ms" "b256" "vs n32" "n acc" "t acc"
for r in "${rows[@]}"; do echo "$r"; done
echo "(training samples/s over $epochs epoch(s), OMP_NUM_THREADS=2, nimble's the median of three runs that alternate"
echo " precisions; bf16 rows: nimble --precision bf16 vs PyTorch bf16 autocast; 'vs n32': training against nimble"
echo " fp32 in this run, batch-256 inference against the same model in fp32 timed in alternation (medians of 3"
echo " runs); ratios: nimble faster when > 1)"
if [ "${#int8_rows[@]}" -gt 0 ]; then
  printf '\n%-13s %-5s %7s %7s %8s %8s %8s %7s %7s %8s %8s %8s %7s %7s %9s %9s %s\n' model width "acc32" "acc8" \
    "n8 b1ms" "n32 b1ms" "t8 b1ms" "vs n32" "vs t8" "n8 b256" "n32 b256" "t8 b256" "vs n32" "vs t8" "bytes32" "bytes8" "kept float"
  for r in "${int8_rows[@]}"; do echo "$r"; done
  echo "(int8: nimble quantize of this run's fp32 model vs nimble fp32 (timed in alternation in one process, medians"
  echo " of 3 runs; 'vs n32' is the median of the runs' own ratios) and PyTorch FX"
  echo " int8 (onednn); ms per batch)"
fi
if [ "${#big_rows[@]}" -gt 0 ]; then
  printf '\n%-13s %-10s %10s %10s %8s %6s %10s %10s %8s\n' model input "fp32 b1 ms" "int8 b1 ms" "speedup" batch \
    "fp32 /s" "int8 /s" "speedup"
  for r in "${big_rows[@]}"; do echo "$r"; done
  echo "(zoo models at full width, int8 calibrated on random images vs their float selves timed in alternation,"
  echo " medians of 3 runs; batch 8 at"
  echo " 3x224x224 is only there to keep it short)"
fi
jq -c --arg e "$epochs" --arg l "$limit" '{bench: "nimble_vs_pytorch", epochs: ($e | tonumber), limit: ($l | tonumber), ratios: .}' <<< "$ratios"
