#!/usr/bin/env bash
# Formatting and static analysis of every C++ file: clang-format (.clang-format) must leave each
# file unchanged, clang-tidy (.clang-tidy) must find nothing in the library, the CLI, the tests,
# the examples and the Python module. Needs a configured build tree (compile_commands.json):
#   bash scripts/lint.sh [BUILD_DIR]      (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ -f "$build/compile_commands.json" ] || { echo "lint: no $build/compile_commands.json; run scripts/build.sh first" >&2; exit 2; }
mapfile -t formatted < <(git ls-files '*.cpp' '*.hpp')
clang-format --dry-run --Werror "${formatted[@]}"
# Only the sources the build compiles have flags in compile_commands.json.
mapfile -t compiled < <(git ls-files 'src/*.cpp' 'tests/*.cpp' 'examples/*.cpp' 'python/*.cpp')
# A file clang-tidy found clean before, in the same preprocessed form, is not analysed again.
python3 scripts/tidy_cached.py "$build" "${compiled[@]}"
# The fuzz targets are compiled only in the clang sanitizer build (scripts/configure-asan.sh).
mapfile -t fuzz < <(git ls-files 'fuzz/*.cpp')
if [ -f build-asan/compile_commands.json ] && grep -q fuzz_npy build-asan/compile_commands.json; then
  python3 scripts/tidy_cached.py build-asan "${fuzz[@]}"
  compiled+=("${fuzz[@]}")
fi
echo "lint: ${#formatted[@]} files formatted, ${#compiled[@]} analysed, no findings" >&2
