#!/usr/bin/env bash
# Regenerates the seed corpora in fuzz/corpus: the data formats with numpy and PIL (make_corpus.py), the
# nimble formats with nimble's own writers (fuzz_make_seeds, built in the fuzz build by scripts/fuzz.sh).
#   bash fuzz/make_corpus.sh [BUILD_DIR]      (default build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-asan}
mkdir -p fuzz/corpus/{checkpoint,graph_json,onnx}
/usr/bin/python3 fuzz/make_corpus.py fuzz/corpus
ASAN_OPTIONS=detect_leaks=0 "$build/fuzz/fuzz_make_seeds" fuzz/corpus
