#!/usr/bin/env bash
# Configures build-asan: clang with AddressSanitizer + UBSan and libFuzzer's coverage instrumentation
# (NIMBLE_FUZZ), for nimble_parser_tests and the fuzz targets (scripts/test.sh, scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ccache-env.sh
# A build-asan configured with another compiler (earlier versions used g++) starts afresh.
if [ -f build-asan/CMakeCache.txt ] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang' build-asan/CMakeCache.txt; then
  rm -rf build-asan/CMakeCache.txt build-asan/CMakeFiles
fi
cmake -S . -B build-asan -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DNIMBLE_FUZZ=ON \
  -DCMAKE_CXX_COMPILER_LAUNCHER="$NIMBLE_LAUNCHER" > /dev/null
