#!/usr/bin/env bash
# The full test suite: installs what is missing (Debian packages, ONNX Runtime for Node), builds
# (warnings are errors), runs every test with CTest (the C++ suite with ONNX's node conformance
# tests, the Python module's pytest with the ONNX Runtime and PyTorch interop tests, installing the
# library and building the examples against it), the checkpoint, IDX and ONNX parser tests again
# under AddressSanitizer + UBSan, each libFuzzer target for 10 s, then the lint (formatting and clang-tidy).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/install-onnxruntime.sh > /dev/null
bash scripts/build.sh
# Two test processes at a time, one OpenMP thread each: two 2-thread OpenMP teams on 2 cores
# spin against each other (a 35 s training test took over 600 s that way).
(cd build && OMP_NUM_THREADS=1 ctest --output-on-failure -j2)
# ONNX's node test suite: how many of its tests import, ran and passed (the CTest above asserted it).
build/tests/nimble_tests --gtest_filter='OnnxConformance.*' | grep '^ONNX node conformance'
# The parsers under clang's AddressSanitizer + UBSan (build-asan, which also builds the libFuzzer targets):
# their tests, then each fuzz target for 10 s on its seed corpus (scripts/fuzz.sh; any finding fails).
bash scripts/configure-asan.sh
ninja -C build-asan tests/nimble_parser_tests fuzz_targets
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 build-asan/tests/nimble_parser_tests
bash scripts/fuzz.sh 10
bash scripts/lint.sh build
