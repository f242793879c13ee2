#!/usr/bin/env bash
# Exact resume (CTest: exact_resume): a run killed with SIGKILL once its first epoch's checkpoint
# exists, then resumed, ends bit for bit where the uninterrupted run ends — weights, batch-norm
# statistics, optimizer state, step counts, loss scaler, kernel choices, pruning masks and the
# teacher's identity (their fingerprints, `nimble info --json`): `train`, `distill` and
# `prune --finetune-epochs` in fp32, bf16 and fp16 with augmentation on, and `train --prune`.
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
setting() {  # setting FILE KEY: a training checkpoint's train_state.settings[KEY]
  "$nimble" info "$1" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["metadata"]["train_state"]["settings"].get(sys.argv[1], ""))' "$2"
}
# Starts "$@" --out resumed.nimble and kills it with SIGKILL once resumed.nimble.train exists;
# prints the epoch that checkpoint holds.
run_and_kill() {
  "$nimble" "$@" --out resumed.nimble > /dev/null 2>&1 &
  local pid=$!
  while [ ! -f resumed.nimble.train ] && kill -0 "$pid" 2> /dev/null; do sleep 0.02; done
  kill -9 "$pid" 2> /dev/null || fail "$1: the run ended before it could be killed"
  wait "$pid" 2> /dev/null || true
  "$nimble" info resumed.nimble.train --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["metadata"]["train_state"]["epoch"])'
}
# --val 0: every epoch is kept, so the checkpoint compared is the last epoch's.
small=(--limit 640 --val 0 --epochs 3 --batch 64 --quiet)

# train and distill: resumed with `--resume FILE.train` alone, settings from the checkpoint.
"$nimble" train --model cnn --limit 640 --val 128 --epochs 1 --quiet --out teacher.nimble > /dev/null 2> err.txt ||
  fail "teacher: $(tail -2 err.txt)"
check_train_resume() {  # NAME COMMAND ARGS...
  local name=$1
  shift
  "$nimble" "$@" --out straight.nimble > /dev/null 2> err.txt || fail "$name: $(tail -2 err.txt)"
  local epoch
  epoch=$(run_and_kill "$@")
  [ "$epoch" -lt 3 ] || fail "$name: killed after the last epoch"
  "$nimble" "$1" --resume resumed.nimble.train --quiet > /dev/null 2> err.txt || fail "$name resume: $(tail -2 err.txt)"
  for f in .nimble .nimble.train; do
    a=$(fingerprints "straight$f") b=$(fingerprints "resumed$f")
    [ "$a" = "$b" ] || fail "$name: straight$f ($a) and resumed$f ($b) differ after resuming from epoch $epoch"
  done
  echo "ok: $name, killed after epoch $epoch and resumed: $(fingerprints straight.nimble.train)"
  rm -f straight.* resumed.*
}
for precision in fp32 bf16 fp16; do
  check_train_resume "train $precision" train --model mobilenet_v2 --width 0.25 "${small[@]}" --erase 0.5 --hflip 1 \
    --dropout 0.2 --precision "$precision"
done
# The teacher's form is fixed: `auto` and the int8 form's layer gate are decided by timing in each
# run, so two uninterrupted runs could differ there (a resumed run takes its own run's; below).
for precision in fp32 bf16 fp16; do
  check_train_resume "distill $precision" distill --teacher teacher.nimble --teacher-precision fp32 \
    --student mobilenet_v2 --width 0.25 "${small[@]}" --erase 0.5 --precision "$precision"
done
check_train_resume "train --prune" train --model mobilenet_v2 --width 0.25 "${small[@]}" --prune channel:0.5 \
  --prune-ramp 0.3 --precision bf16

# Hint adapters (their weights and momentum) continue too: with a constant learning rate, one epoch
# resumed to two equals two epochs straight.
hint=(distill --teacher teacher.nimble --teacher-precision fp32 --student resnet --depth 8 --hint relu0:relu0
      --schedule constant --limit 640 --val 0 --batch 64 --precision fp32 --quiet)
"$nimble" "${hint[@]}" --epochs 2 --out straight.nimble > /dev/null 2> err.txt || fail "hints: $(tail -2 err.txt)"
"$nimble" "${hint[@]}" --epochs 1 --out resumed.nimble > /dev/null 2> err.txt || fail "hints: $(tail -2 err.txt)"
"$nimble" distill --resume resumed.nimble.train --epochs 2 --quiet > /dev/null 2> err.txt ||
  fail "hints resume: $(tail -2 err.txt)"
a=$(fingerprints straight.nimble.train) b=$(fingerprints resumed.nimble.train)
[ "$a" = "$b" ] || fail "hints: 2 epochs straight ($a) and 1 + 1 resumed ($b) differ"
echo "ok: distill with a hint, 1 epoch resumed to 2: $a"
rm -f straight.* resumed.*

# prune: resumed by giving the same command again with --resume; OUT.train is gone when it ends.
for precision in fp32 bf16 fp16; do
  prune=(prune teacher.nimble --method channel --ratio 0.5 --finetune-epochs 3 --ramp 0.3 --precision "$precision"
         --teacher-precision fp32 --iters 3 --batch 16)
  "$nimble" "${prune[@]}" --out straight.nimble > /dev/null 2> err.txt || fail "prune: $(tail -2 err.txt)"
  [ ! -e straight.nimble.train ] || fail "prune: a finished run left straight.nimble.train"
  epoch=$(run_and_kill "${prune[@]}")
  [ "$epoch" -lt 3 ] || fail "prune $precision: killed after the last epoch"
  "$nimble" "${prune[@]}" --out resumed.nimble --resume > /dev/null 2> err.txt ||
    fail "prune $precision resume: $(tail -2 err.txt)"
  a=$(fingerprints straight.nimble) b=$(fingerprints resumed.nimble)
  [ "$a" = "$b" ] ||
    fail "prune $precision: straight.nimble ($a) and resumed.nimble ($b) differ after resuming from epoch $epoch"
  [ ! -e resumed.nimble.train ] || fail "prune: the resumed run left resumed.nimble.train"
  echo "ok: prune --finetune-epochs $precision, killed after epoch $epoch and resumed: $a"
  rm -f straight.* resumed.*
done
# Another command does not continue that checkpoint.
epoch=$(run_and_kill "${prune[@]}")
if "$nimble" "${prune[@]}" --lr 0.02 --out resumed.nimble --resume > /dev/null 2> err.txt; then
  fail "prune: resumed a checkpoint written with another --lr"
fi
grep -q "written by another prune command" err.txt || fail "prune: unexpected error: $(cat err.txt)"
rm -f straight.* resumed.*

# An int8 teacher: the resumed run runs the interrupted run's int8 teacher (the layers its timed
# gate kept in float), which the checkpoint records and the resumed run checks and writes again.
"$nimble" train --model mobilenet_v2 --width 0.5 --limit 640 --val 128 --epochs 1 --quiet --out teacher_mb.nimble \
  > /dev/null 2> err.txt || fail "mobilenet teacher: $(tail -2 err.txt)"
layers=()
for run in killed resumed; do
  if [ "$run" = killed ]; then
    epoch=$(run_and_kill distill --teacher teacher_mb.nimble --teacher-precision int8 --student mobilenet_v2 \
      --width 0.25 "${small[@]}" --precision fp32)
  else
    "$nimble" distill --resume resumed.nimble.train --quiet > /dev/null 2> err.txt || fail "int8 teacher: $(tail -2 err.txt)"
  fi
  [ "$(setting resumed.nimble.train distill.teacher_form)" = int8 ] || fail "int8 teacher: the checkpoint's form"
  layers+=("$(setting resumed.nimble.train distill.teacher_int8_float_layers)")
done
[ "${layers[0]}" = "${layers[1]}" ] || fail "int8 teacher: float layers ${layers[0]} became ${layers[1]}"
echo "ok: distill from an int8 teacher resumed with its float layers [${layers[0]}]"
rm -f resumed.*

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
