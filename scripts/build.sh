#!/usr/bin/env bash
# Configures and builds nimble (library, `build/nimble`, the Python module in build/python, tests)
# with Ninja in ./build; given targets (e.g. nimble_cli), only those.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ccache-env.sh
# Warnings are errors here: the tree builds without any.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DNIMBLE_PYTHON=ON -DNIMBLE_WERROR=ON \
  -DCMAKE_CXX_COMPILER_LAUNCHER="$NIMBLE_LAUNCHER" >/dev/null
ninja -C build "$@"
