#!/usr/bin/env bash
# Crash-safe writes (CTest: crash_safe_writes). `nimble train`, `quantize`, `prune` and `export`
# are killed with SIGKILL, every other time the moment a temporary file appears (a write under
# way) and otherwise at a random moment in the second half of a run; 200 kills in all, more of
# the quicker commands: after every kill the file at the output path (the previous one, or a complete new
# one) still loads, and so does train's checkpoint; the next successful run leaves no temporary
# file behind. Then a full disk (a file-size limit) and, where this machine lets root mount one, a
# read-only folder: one error line, a non-zero exit, the previous file intact.
# Usage: crash_safe_writes.sh NIMBLE [PERCENT_OF_THE_KILLS]
set -euo pipefail
nimble=$1
percent=${2:-100}
work=$(mktemp -d)
cleanup() { mountpoint -q "$work/ro" 2> /dev/null && umount "$work/ro"; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
loads() { "$nimble" info "$1" --json > /dev/null 2>&1; }

# A small slice of Fashion-MNIST (600 training, 200 test images) keeps each run short.
mkdir data
python3 - "${NIMBLE_DATA:-/usr/share/datasets/fashion-mnist}" data <<'PY'
import gzip, struct, sys
src, dst = sys.argv[1], sys.argv[2]
for split, n in (("train", 600), ("t10k", 200)):
    for kind, magic, each in (("images", 0x803, 784), ("labels", 0x801, 1)):
        name = f"{split}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
        with gzip.open(f"{src}/{name}.gz") as f:
            f.read(16 if kind == "images" else 8)
            body = f.read(n * each)
        head = struct.pack(">IIII", magic, n, 28, 28) if kind == "images" else struct.pack(">II", magic, n)
        open(f"{dst}/{name}", "wb").write(head + body)
PY
"$nimble" train --data data --model cnn --width 0.25 --val 100 --epochs 1 --precision fp32 --quiet --out m.nimble \
  > /dev/null 2>&1 || fail "could not train the model the commands read"
mkdir out
declare -A cmds=(
  [train]="train --data data --model cnn --width 0.25 --val 100 --epochs 1 --precision fp32 --quiet --out out/t.nimble"
  [quantize]="quantize m.nimble --data data --calib 64 --iters 3 --batch 16 --out out/q.nimble"
  [prune]="prune m.nimble --data data --method channel --ratio 0.3 --iters 3 --out out/p.nimble"
  [export]="export m.nimble --out out/e.onnx"
)
declare -A target=([train]=out/t.nimble [quantize]=out/q.nimble [prune]=out/p.nimble [export]=out/e.onnx)
declare -A kills_of=([train]=60 [quantize]=30 [prune]=30 [export]=80)
total=0
for name in train quantize prune export; do
  read -ra cmd <<< "${cmds[$name]}"
  file=${target[$name]}
  "$nimble" "${cmd[@]}" > /dev/null 2>&1 || fail "$name does not run"  # warm: kernel choices cached
  loads "$file" || fail "$name wrote a file that does not load"
  start=$(date +%s%N)
  "$nimble" "${cmd[@]}" > /dev/null 2>&1
  ms=$((($(date +%s%N) - start) / 1000000))
  kills=0 leftovers=0 attempts=0 kills_each=$((kills_of[$name] * percent / 100))
  while [ "$kills" -lt "$kills_each" ]; do
    attempts=$((attempts + 1))
    [ "$attempts" -le $((kills_each * 4)) ] || fail "$name: only $kills kills in $attempts attempts"
    "$nimble" "${cmd[@]}" > /dev/null 2>&1 &
    pid=$!
    if [ $((attempts % 2)) = 0 ]; then
      # Every other kill the moment a temporary file appears: a write under way.
      delay=write
      while kill -0 "$pid" 2> /dev/null && ! compgen -G "out/.*.tmp-$pid-*" > /dev/null; do :; done
    else
      # The others anywhere in the second half of a run (the estimate shrinks when a run ends first).
      delay=$((ms * (50 + RANDOM % 51) / 100))
      sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    fi
    if kill -9 "$pid" 2> /dev/null; then kills=$((kills + 1)); else [ "$delay" = write ] || ms=$((ms * 9 / 10)); fi
    wait "$pid" 2> /dev/null || true
    loads "$file" || fail "$name killed after ${delay} ms: $file no longer loads"
    if [ "$name" = train ] && [ -e "$file.train" ]; then
      loads "$file.train" || fail "train killed after ${delay} ms: $file.train no longer loads"
    fi
    if compgen -G "out/.*.tmp-$pid-*" > /dev/null; then leftovers=$((leftovers + 1)); fi
  done
  "$nimble" "${cmd[@]}" > /dev/null 2>&1 || fail "$name did not run after the kills"
  leftover=$(find out -name '.*.tmp-*' | head -3)
  [ -z "$leftover" ] || fail "$name: temporary files left after a successful run: $leftover"
  rm -f out/.*.tmp-* 2> /dev/null || true
  echo "ok: $name ($ms ms a run): $kills kills, $leftovers of them left a half-written temporary file; every file still loads"
  total=$((total + kills))
done
echo "ok: $total kills in all"

# A full disk: writes past a file-size limit fail (EFBIG) and the previous file stays.
cp m.nimble out/full.nimble
before=$(sha256sum < out/full.nimble)
set +e
(ulimit -f 20; "$nimble" quantize m.nimble --calib 64 --iters 3 --out out/full.nimble > /dev/null 2> err.txt)
code=$?
set -e
[ "$code" != 0 ] || fail "a write past the file-size limit succeeded"
[ "$(grep -c '^error: ' err.txt)" = 1 ] && grep -q "File too large" err.txt || fail "full disk: $(cat err.txt)"
[ "$(sha256sum < out/full.nimble)" = "$before" ] || fail "full disk: the previous file changed"
[ -z "$(find out -name '.*.tmp-*')" ] || fail "full disk: a temporary file was left"
echo "ok: a full disk gives: $(grep '^error: ' err.txt)"

# A read-only folder (a read-only bind mount: root writes anywhere else).
mkdir ro
cp m.nimble ro/m.nimble
if mount --bind ro ro 2> /dev/null && mount -o remount,ro,bind ro 2> /dev/null; then
  set +e
  "$nimble" export ro/m.nimble --out ro/m.onnx > /dev/null 2> err.txt
  code=$?
  set -e
  [ "$code" != 0 ] || fail "a write into a read-only folder succeeded"
  [ "$(grep -c '^error: ' err.txt)" = 1 ] && grep -q "Read-only file system" err.txt || fail "read-only: $(cat err.txt)"
  loads ro/m.nimble || fail "read-only: the model no longer loads"
  echo "ok: a read-only folder gives: $(grep '^error: ' err.txt)"
else
  echo "skipped: this machine does not let root mount a read-only folder (the file-size limit above stands in)"
fi
