#!/usr/bin/env bash
# Installs nimble from a build tree into a temporary prefix, builds examples/ against it as an
# outside project would (find_package(nimble)), and runs each example on a little Fashion-MNIST.
#   tests/install_test.sh BUILD_DIR SOURCE_DIR [DATA_DIR]
set -euo pipefail
build=$(realpath "$1") src=$(realpath "$2") data=${3:-/usr/share/datasets/fashion-mnist}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/nimble/nimble.hpp"
test -f "$prefix/lib/cmake/nimble/nimbleConfig.cmake"
ls "$prefix"/lib/libnimble.so* >/dev/null

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# Quiet unless it fails.
quietly() { "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }; }
quietly cmake -S "$src/examples" -B "$work/examples" "${generator[@]}" "${launcher[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_COMPILE_WARNING_AS_ERROR=ON -DCMAKE_CXX_FLAGS="-Wall -Wextra"
quietly cmake --build "$work/examples"
bin=$work/examples

# Runs an example, its stderr kept aside and shown only when it fails.
example() { "$@" 2>"$work/stderr" || { echo "FAIL: $* exited $?:" >&2; cat "$work/stderr" >&2; exit 1; }; }
# The number after the last match of the regex $2 in the text $1.
figure() { sed -nE "s/.*$2 ([0-9.]+).*/\1/p" <<<"$1" | tail -1; }
# Fails with `what` unless a > b.
above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }' || { echo "FAIL: $3: $1 is not above $2" >&2; exit 1; }; }

# A hand-built network, trained briefly, saved with class names; classify reads it back.
out=$(example "$bin/handmade_graph" "$data" "$work/hand.nimble" 4000 1)
echo "$out"
above "$(figure "$out" 'test accuracy')" 0.6 "handmade_graph test accuracy"
out=$("$bin/classify" "$work/hand.nimble" "$data/t10k-images-idx3-ubyte.gz" "$data/t10k-labels-idx1-ubyte.gz" 1000)
echo "$out"
above "$(figure "$out" accuracy)" 0.6 "classify accuracy of the hand-built model"
grep -q "Ankle boot\|Trouser\|Sneaker\|Bag" <<<"$out" || { echo "FAIL: classify printed no class names" >&2; exit 1; }

# Train (a tiny run), prune without fine-tuning, quantize; the int8 model still classifies.
mkdir "$work/models"
out=$(example "$bin/train_prune_quantize" "$data" "$work/models" 1024 1 0)
echo "$out"
above "$(figure "$out" 'test accuracy [0-9.]+ ->')" 0.3 "train_prune_quantize int8 test accuracy"
test -f "$work/models/cnn-int8.nimble"
out=$("$bin/classify" "$work/models/cnn-int8.nimble" "$data/t10k-images-idx3-ubyte.gz" \
  "$data/t10k-labels-idx1-ubyte.gz" 500)
echo "$out"
above "$(figure "$out" accuracy)" 0.3 "classify accuracy of the int8 model"
# The Python module, when built (NIMBLE_PYTHON_EXECUTABLE: its interpreter), from the prefix.
if [ -n "${NIMBLE_PYTHON_EXECUTABLE:-}" ]; then
  PYTHONPATH=$(echo "$prefix"/lib/python3*/*-packages) "$NIMBLE_PYTHON_EXECUTABLE" - "$work/hand.nimble" <<'PY'
import sys
import numpy as np
import nimble
model = nimble.Model.load(sys.argv[1])
assert model.class_names[9] == "Ankle boot", model.class_names
assert model.run(np.zeros((3, 28, 28), np.uint8)).shape == (3, 10)
print("python module from the prefix:", model)
PY
fi
echo "install test passed"
