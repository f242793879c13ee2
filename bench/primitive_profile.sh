#!/usr/bin/env bash
# Where the time goes: runs a nimble command with ONEDNN_VERBOSE=1 and sums oneDNN's own
# per-primitive execution times by (primitive, implementation, propagation kind), largest first.
# Time outside oneDNN (data loading, the optimizer, hand-written kernels) is not in the table.
#
#   bash bench/primitive_profile.sh [--top N] [--by-shape] -- build/nimble train --model cnn --epochs 1 --limit 5000
set -euo pipefail
top=25
by_shape=0
while [ $# -gt 0 ]; do
  case "$1" in
    --top) top="$2"; shift 2 ;;
    --by-shape) by_shape=1; shift ;;
    --) shift; break ;;
    *) echo "error: unknown argument $1 (expected --top N, --by-shape, then -- COMMAND)" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "error: no command given (usage: $0 [--top N] [--by-shape] -- COMMAND ...)" >&2; exit 2; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ONEDNN_VERBOSE=1 "$@" > "$log" 2>/dev/null
# exec lines: onednn_verbose,exec,cpu,<primitive>,<impl>,<prop>,<mds>,<attrs>,<aux>,<shape>,<ms>
printf "%10s %7s %6s  %s\n" ms calls share "primitive  implementation  kind$([ "$by_shape" = 1 ] && echo "  shape")"
grep '^onednn_verbose,exec' "$log" | awk -F, -v by_shape="$by_shape" '
  { key = $4 "  " $5 "  " $6; if (by_shape) key = key "  " $(NF-1); ms[key] += $NF; n[key]++; total += $NF }
  END {
    for (k in ms) printf "%10.1f %7d %5.1f%%  %s\n", ms[k], n[k], 100 * ms[k] / total, k
    printf "%10.1f  total inside oneDNN\n", total > "/dev/stderr"
  }' | sort -k1,1 -rn | head -n "$top"
