#!/usr/bin/env bash
# `nimble train` under mpirun -np 2 as a user runs it (CTest: cli_data_parallel_2_ranks):
#   1. one JSON report on stdout (rank 0 speaks for the run), the model written once, no temp files;
#   2. distill, quantize --qat-epochs and prune --finetune-epochs run; a batch the ranks cannot split evenly: one error line per rank, naming it, and a non-zero exit;
#   3. kill -9 of rank 1 mid-run: mpirun exits non-zero within 60 s; the same command with
#      --resume on the checkpoint of the last finished epoch completes the run;
#   4. rank 1 stopped (SIGSTOP): rank 0's watchdog (NIMBLE_DIST_TIMEOUT) ends the run; a 2-rank run
#      resumes on one process;
#   5. `nimble search` with the candidates dealt out to 2 ranks measures exactly the accuracies one
#      process measures, from the same supernet and latency table, also when rank 1 lags behind;
#   6. a 2-rank search from scratch trains the supernet one process trains (synchronised batch-norm;
#      first-epoch loss within 5 %, where one process's own runs spread by about 2 % because
#      training times kernels) and times the latency table on the machine's threads as one process
#      does (the same table fingerprint, so one cache serves both).
# Usage: cli_data_parallel.sh NIMBLE MPIRUN-AND-ITS-OPTIONS...
set -euo pipefail
nimble=$1
shift
mpirun=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
# What a failed command said: its error lines (any rank's), else its last lines (mpirun's trailer).
said() { grep -m5 "error" "$1" || tail -3 "$1"; }
train=(train --model cnn --width 0.5 --limit 4096 --val 512 --precision fp32)

"${mpirun[@]}" -np 2 "$nimble" "${train[@]}" --epochs 1 --out dp.nimble --json > out.json 2> err.txt ||
  fail "2-rank training exited $?: $(said err.txt)"
[ "$(grep -c '^{' out.json)" = 1 ] || fail "expected one JSON report, got: $(cat out.json)"
python3 - out.json <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ranks"] == 2, r["ranks"]
assert r["history"][0]["epoch"] == 1 and len(r["history"][0]["step_losses"]) == (4096 - 512) // 128, r["history"]
assert r["test_accuracy"] > 0.6, r["test_accuracy"]
PY
[ -f dp.nimble ] && [ -f dp.nimble.train ] || fail "no model or training checkpoint written"
[ -z "$(ls -A | grep '\.tmp-')" ] || fail "temp files left: $(ls -A)"
echo "ok: one report, the model written once"

# The other commands that train: distillation (its teacher compiled for each rank's slice), QAT
# (its observers' ranges agreed each epoch) and pruning's fine-tuning, each reading back or
# handing on files only rank 0 writes; QAT and pruning with synchronised batch-norm.
"${mpirun[@]}" -np 2 "$nimble" distill --teacher dp.nimble --student cnn --width 0.25 --epochs 1 --limit 2048 \
  --out student.nimble > /dev/null 2> err.txt || fail "2-rank distill exited $?: $(said err.txt)"
"${mpirun[@]}" -np 2 "$nimble" quantize dp.nimble --qat-epochs 1 --sync-bn --out q.nimble > /dev/null 2> err.txt ||
  fail "2-rank quantize --qat-epochs exited $?: $(said err.txt)"
"${mpirun[@]}" -np 2 "$nimble" prune dp.nimble --method channel --ratio 0.5 --finetune-epochs 1 --sync-bn --out p.nimble \
  > /dev/null 2> err.txt || fail "2-rank prune exited $?: $(said err.txt)"
[ -f student.nimble ] && [ -f q.nimble ] && [ -f p.nimble ] || fail "distill, quantize or prune wrote no model"
echo "ok: distill, quantize --qat-epochs and prune under 2 ranks"

set +e
"${mpirun[@]}" -np 2 "$nimble" "${train[@]}" --epochs 1 --batch 127 --out odd.nimble > /dev/null 2> err.txt
code=$?
set -e
[ "$code" != 0 ] || fail "an uneven batch was accepted"
grep -q "error: rank 0 of 2: the batch (127) must divide evenly among the 2 ranks" err.txt || fail "$(cat err.txt)"
[ ! -e odd.nimble ] || fail "a model was written"
echo "ok: an uneven batch is refused"

# Starts a 6-epoch 2-rank run writing OUT (stderr to LOG) with NIMBLE_DIST_TIMEOUT=TIMEOUT, sends
# SIGNAL to rank 1 once epoch 1's
# checkpoint is written (epochs take about a second: in epoch 2 or a little later) and waits for
# mpirun; sets `code` (its exit code) and `took` (seconds from the signal to its end).
signal_rank1_in_a_run() {
  local signal=$1 out=$2 log=$3 timeout=$4 launcher pid rank1="" start
  NIMBLE_DIST_TIMEOUT=$timeout "${mpirun[@]}" -np 2 -x NIMBLE_DIST_TIMEOUT "$nimble" "${train[@]}" --epochs 6 \
    --out "$out" > /dev/null 2> "$log" &
  launcher=$!
  for _ in $(seq 600); do
    [ -f "$out.train" ] && break
    sleep 0.1
  done
  [ -f "$out.train" ] || fail "no checkpoint after epoch 1: $(tail -3 "$log")"
  sleep 0.3
  for pid in $(pgrep -f "$nimble train"); do
    grep -qz '^OMPI_COMM_WORLD_RANK=1$' "/proc/$pid/environ" 2> /dev/null && rank1=$pid
  done
  [ -n "$rank1" ] || fail "rank 1 not found"
  kill "-$signal" "$rank1"
  start=$(date +%s)
  set +e
  wait "$launcher"
  code=$?
  set -e
  took=$(($(date +%s) - start))
  [ "$code" != 0 ] || fail "mpirun exited 0 after rank 1 got SIG$signal"
  [ "$took" -le 60 ] || fail "the run took $took s to end after rank 1 got SIG$signal"
}

signal_rank1_in_a_run KILL k.nimble kill.txt 300
echo "ok: rank 1 killed, the run ended in $took s with exit $code"

"${mpirun[@]}" -np 2 "$nimble" train --resume k.nimble.train --out k.nimble --json > resumed.json 2> err.txt ||
  fail "resume exited $?: $(said err.txt)"
python3 - resumed.json <<'PY' || fail "resumed report"
import json, sys
epochs = [e["epoch"] for e in json.load(open(sys.argv[1]))["history"]]
assert epochs and epochs[0] >= 2 and epochs == list(range(epochs[0], 7)), epochs
PY
echo "ok: resumed from the last checkpoint and finished epoch 6"

# Rank 1 hangs (SIGSTOP: alive, never answering): rank 0's watchdog ends the run, in whichever collective
# (allreduce of a step, barrier of an epoch's end) rank 0 was waiting.
signal_rank1_in_a_run STOP h.nimble hang.txt 3
grep -qE "error: rank 0 of 2: an MPI [a-z]+ has waited" hang.txt || fail "no watchdog message: $(cat hang.txt)"
echo "ok: rank 1 stopped, rank 0's watchdog ended the run in $took s with exit $code"

# A run resumed on another number of ranks (here one process) continues it.
OMP_NUM_THREADS=1 "$nimble" train --resume k.nimble.train --epochs 7 --out k.nimble --json > one.json 2> err.txt ||
  fail "resuming on one process exited $?: $(said err.txt)"
python3 -c "import json,sys; r=json.load(open('one.json')); assert [e['epoch'] for e in r['history']] == [7], r" ||
  fail "resumed report"
echo "ok: resumed the 2-rank run on one process"

search=(search --limit 1024 --val 256 --epochs 1 --batch 64 --population 4 --generations 1 --random-evaluations 4
        --latency-iters 5 --latency-validation 4 --select 1 --threads 1 --json)
XDG_CACHE_HOME=$work/cache1 OMP_NUM_THREADS=1 "$nimble" "${search[@]}" --out s1 > /dev/null 2> err.txt ||
  fail "search exited $?: $(said err.txt)"
mkdir s2
cp s1/supernet.nimble s2/
cp -r cache1 cache2
# Rank 1 held back (SIGSTOP for 5 s while it reads the data set, past MPI's start-up): rank 0 must
# not write a stage file the lagging rank then reads as finished (the latency table rank 0
# validated with broadcasts, which return on rank 0 at once, in the CI failure of ef680cb).
"${mpirun[@]}" -np 2 -x XDG_CACHE_HOME="$work/cache2" "$nimble" "${search[@]}" --out s2 > /dev/null 2> err.txt &
launcher=$!
rank1=""
for _ in $(seq 500); do
  for pid in $(pgrep -f "$nimble search"); do
    grep -qz '^OMPI_COMM_WORLD_RANK=1$' "/proc/$pid/environ" 2> /dev/null && rank1=$pid
  done
  [ -n "$rank1" ] && ls -l "/proc/$rank1/fd" 2> /dev/null | grep -q "fashion-mnist" && break
  sleep 0.01
done
[ -n "$rank1" ] || fail "rank 1 of the search not found: $(said err.txt)"
kill -STOP "$rank1"
sleep 5
kill -CONT "$rank1"
wait "$launcher" || fail "2-rank search with rank 1 held back exited $?: $(said err.txt)"
cmp <(cut -d, -f1-5 s1/evaluations.csv) <(cut -d, -f1-5 s2/evaluations.csv) ||
  fail "the 2-rank search measured other accuracies: $(diff s1/evaluations.csv s2/evaluations.csv)"
echo "ok: the 2-rank search, rank 1 held back 5 s, measured the one-process accuracies ($(($(wc -l < s2/evaluations.csv) - 1)) architectures)"

scratch=(search --limit 1024 --val 256 --epochs 1 --batch 64 --population 4 --generations 1 --random-evaluations 4
         --latency-iters 5 --latency-validation 4 --select 1 --precision fp32 --json)
XDG_CACHE_HOME=$work/cache3 OMP_NUM_THREADS=2 "$nimble" "${scratch[@]}" --out s3 > s3.json 2> err.txt ||
  fail "search from scratch exited $?: $(said err.txt)"
"${mpirun[@]}" -np 2 -x XDG_CACHE_HOME="$work/cache4" "$nimble" "${scratch[@]}" --out s4 > s4.json 2> err.txt ||
  fail "2-rank search from scratch exited $?: $(said err.txt)"
python3 - <<'PY' || fail "the 2-rank search from scratch differs from one process's"
import json
one, two = json.load(open("s3.json")), json.load(open("s4.json"))
fp = [json.load(open(d + "/latency.json"))["table"]["fingerprint"] for d in ("s3", "s4")]
assert fp[0] == fp[1], fp
assert "threads 2 " in fp[0] + " ", fp[0]
assert two["latency"]["measured_on"].startswith("rank 0's machine"), two["latency"]["measured_on"]
l1, l2 = one["supernet"]["losses"][0], two["supernet"]["losses"][0]
assert abs(l1 - l2) <= 0.05 * l1, (l1, l2)
print("supernet loss one process %.4f, 2 ranks %.4f; the table's %s" % (l1, l2, [p for p in fp[0].split(" | ") if p.startswith("threads")][0]))
PY
echo "ok: a 2-rank search from scratch trained the one-process supernet and timed the one-process table"
