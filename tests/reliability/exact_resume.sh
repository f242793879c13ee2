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

# Two runs timing kernels at once on an empty machine cache agree on every choice: the machine file
# is read, extended and written under a lock, and a run that lost the race takes the winner's choice.
export XDG_CACHE_HOME=$work/cache
run=(train --model mobilenet_v2 --width 0.25 --limit 256 --val 64 --epochs 1 --batch 64 --precision fp16 --quiet)
"$nimble" "${run[@]}" --out a.nimble > /dev/null 2> err_a.txt & pid_a=$!
"$nimble" "${run[@]}" --out b.nimble > /dev/null 2> err_b.txt & pid_b=$!
wait "$pid_a" || fail "concurrent run a: $(tail -2 err_a.txt)"
wait "$pid_b" || fail "concurrent run b: $(tail -2 err_b.txt)"
for f in a b; do "$nimble" info "$f.nimble.train" --json > "$f.json"; done
python3 - a.json b.json "$XDG_CACHE_HOME"/nimble/kernels/*.json <<'PY' || fail "concurrent runs chose different kernels"
import json, sys
a, b = (json.load(open(p))["metadata"]["train_state"]["kernel_choices"] for p in sys.argv[1:3])
disk = {}
for p in sys.argv[3:]:
    disk.update(json.load(open(p)))
assert a and a.keys() == b.keys(), "the runs used different kernels"
differ = [k for k in a if not (a[k] == b[k] == disk.get(k))]
assert not differ, f"{len(differ)} of {len(a)} choices differ between the runs and the machine file"
print(f"ok: two runs at once agree on {len(a)} kernel choices")
PY
