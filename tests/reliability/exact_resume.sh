#!/usr/bin/env bash
# Exact resume (CTest: exact_resume): `nimble train` killed with SIGKILL once its first epoch's
# checkpoint exists, then `--resume`d, ends bit for bit where the uninterrupted run ends — weights,
# batch-norm statistics, optimizer state, step counts, loss scaler and kernel choices (their
# fingerprints, `nimble info --json`) — in fp32, bf16 and fp16, with augmentation and dropout on.
# Usage: exact_resume.sh NIMBLE
set -euo pipefail
nimble=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
fingerprints() {
  "$nimble" info "$1" --json | python3 -c 'import json, sys; j = json.load(sys.stdin); print(j["weights_fingerprint"], j["training_state_fingerprint"])'
}

for precision in fp32 bf16 fp16; do
  run=(train --model mobilenet_v2 --width 0.25 --limit 640 --val 128 --epochs 3 --batch 64 --erase 0.5 --hflip 1
       --dropout 0.2 --precision "$precision" --quiet)
  "$nimble" "${run[@]}" --out straight.nimble > /dev/null 2> err.txt || fail "$precision: $(tail -2 err.txt)"
  "$nimble" "${run[@]}" --out resumed.nimble > /dev/null 2>&1 &
  pid=$!
  while [ ! -f resumed.nimble.train ] && kill -0 "$pid" 2> /dev/null; do sleep 0.02; done
  kill -9 "$pid" 2> /dev/null || fail "$precision: the run ended before it could be killed"
  wait "$pid" 2> /dev/null || true
  epoch=$("$nimble" info resumed.nimble.train --json |
          python3 -c 'import json, sys; print(json.load(sys.stdin)["metadata"]["train_state"]["epoch"])')
  [ "$epoch" -lt 3 ] || fail "$precision: killed after the last epoch"
  "$nimble" train --resume resumed.nimble.train --quiet > /dev/null 2> err.txt || fail "$precision resume: $(tail -2 err.txt)"
  for f in .nimble .nimble.train; do
    a=$(fingerprints "straight$f") b=$(fingerprints "resumed$f")
    [ "$a" = "$b" ] || fail "$precision: straight$f ($a) and resumed$f ($b) differ after resuming from epoch $epoch"
  done
  echo "ok: $precision, killed after epoch $epoch and resumed: $(fingerprints straight.nimble.train)"
  rm -f straight.* resumed.*
done
