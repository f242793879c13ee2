#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/: one per untrusted-input reader, clang with AddressSanitizer and
# UBSan, in build-asan) and runs each for SECONDS (default 60) on a scratch copy of its seed corpus
# (fuzz/corpus/<target>, plus fuzz/regressions/<target>: the repository's files are not modified), one
# target at a time in one process. Prints a table: executions, executions per second, final coverage
# (libFuzzer's cov: edges and ft: features), findings. A finding is a crash, a sanitizer report, a leak,
# an out-of-memory (over -rss_limit_mb), a timeout (one input over -timeout seconds) or an exception
# other than nimble::Error; its input is saved in the run directory's <target>/artifacts and the script
# exits 1.
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]        targets: checkpoint graph_json idx onnx image npy npz cifar
# NIMBLE_FUZZ_OUT=DIR: the run directory (default build-asan/fuzz-runs/<date-time>).
# NIMBLE_FUZZ_MERGE=1: afterwards, merge the inputs that add coverage into fuzz/corpus/<target>.
# Reproduce a finding: build-asan/fuzz/fuzz_<target> <artifact>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
all=(checkpoint graph_json idx onnx image npy npz cifar)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -d "fuzz/corpus/$t" ] || { echo "fuzz.sh: unknown target '$t' (targets: ${all[*]})" >&2; exit 2; }
done

build=build-asan
bash scripts/configure-asan.sh
ninja -C $build -j2 fuzz_targets > /dev/null

out=${NIMBLE_FUZZ_OUT:-$build/fuzz-runs/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Leaks are findings; UB aborts (the build also compiles it with -fno-sanitize-recover).
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
failed=0
printf '%-11s %8s %12s %9s %7s %7s  %s\n' target seconds executions exec/s cov ft findings
for t in "${targets[@]}"; do
  dir=$out/$t
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -r "fuzz/corpus/$t/." "$dir/corpus/"
  [ -d "fuzz/regressions/$t" ] && cp -r "fuzz/regressions/$t/." "$dir/corpus/"
  args=("$dir/corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$dir/artifacts/")
  [ -f "fuzz/$t.dict" ] && args+=(-dict="fuzz/$t.dict")
  start=$(date +%s)
  rc=0
  "$build/fuzz/fuzz_$t" "${args[@]}" > "$dir/log" 2>&1 || rc=$?
  elapsed=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$dir/log" | tail -1 | cut -d' ' -f2)
  findings=$(find "$dir/artifacts" -type f ! -name 'slow-unit-*' | wc -l)
  note=$findings
  if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ]; then
    failed=1
    note="$findings (exit $rc; see $dir/log)"
  fi
  printf '%-11s %8s %12s %9s %7s %7s  %s\n' "$t" "$elapsed" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$note"
  if [ "${NIMBLE_FUZZ_MERGE:-0}" = 1 ] && [ "$rc" -eq 0 ]; then
    "$build/fuzz/fuzz_$t" -merge=1 "fuzz/corpus/$t" "$dir/corpus" > "$dir/merge.log" 2>&1
  fi
done
echo "fuzz.sh: logs and artifacts in $out"
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: FINDINGS (a crash, sanitizer report, leak, out-of-memory or timeout); reproduce with $build/fuzz/fuzz_<target> <artifact>" >&2
  exit 1
fi
