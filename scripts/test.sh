#!/usr/bin/env bash
# The full test suite: installs what is missing, builds, runs every test with CTest, then the
# checkpoint-corruption fuzz tests again under AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure -j2)
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNIMBLE_ASAN=ON >/dev/null
ninja -C build-asan nimble_tests
ASAN_OPTIONS=detect_leaks=0 build-asan/tests/nimble_tests --gtest_filter='Checkpoint*:GraphJson*:Idx*'
