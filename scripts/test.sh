#!/usr/bin/env bash
# The full test suite: installs what is missing, builds, runs every test with CTest, then the
# checkpoint and IDX parser tests (corruption fuzzing included) again under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure -j2)
cmake -S . -B build-asan -G Ninja -DNIMBLE_ASAN=ON >/dev/null
ninja -C build-asan tests/nimble_parser_tests
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 build-asan/tests/nimble_parser_tests
