#!/usr/bin/env bash
# Instructions per request of the Python worker's request path in one
# process, without a master, nginx or a second valgrind'd process:
# bench/opcount.py's harness (the seed app's /user/bob on one thread,
# nginx's 14 vars, request logging on into a list) run untraced under
# callgrind for N1 and N2 requests; the difference of the two totals over
# N2 - N1 (the client's side in the same process is counted too, the
# same for every build). PYTHONHASHSEED is fixed: runs of one build agree
# within ~20 instructions, but a change of a few bytecodes can move the
# count by 1,000-1,500 for reasons of layout (object addresses, dict
# slots), so a difference under ~2,000 between builds is not a result.
#
#   bench/opcost.sh                             # this tree's worker, REPS=2
#   bench/opcost.sh /path/to/other/worker.py    # then another build's
#   SIM=1 bench/opcost.sh                       # also callgrind's cache and branch
#     simulation: its cycle estimate per request (Ir + 10 x L1 misses + 100 x LL
#     misses + 20 x mispredicted branches), the interpreter's dispatch and
#     cache misses that an instruction count leaves out
# Needs valgrind and /usr/bin/python3 with Flask. About 40 s a repetition.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIMARGS=(); [ "${SIM:-0}" = 1 ] && SIMARGS=(--cache-sim=yes --branch-sim=yes)
REPS=${REPS:-2}; N1=${N1:-200}; N2=${N2:-1200}
command -v valgrind >/dev/null 2>&1 || { echo "bench: opcost.sh needs valgrind: apt-get install -y valgrind" >&2; exit 2; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
total() { # WORKER N
  PYTHONHASHSEED=0 TRACE=0 N=$2 WORKER=$1 valgrind -q --tool=callgrind "${SIMARGS[@]}" --callgrind-out-file="$TMP/cg" \
    /usr/bin/python3 "$ROOT/bench/opcount.py" >/dev/null
  awk '/^events:/ {for (i = 2; i <= NF; i++) e[i] = $i} /^totals:/ {for (i = 2; i <= NF; i++) v[e[i]] = $i
    printf "%d %d\n", v["Ir"], v["Ir"] + 10 * (v["I1mr"] + v["D1mr"] + v["D1mw"]) + 100 * (v["ILmr"] + v["DLmr"] + v["DLmw"]) + 20 * (v["Bcm"] + v["Bim"])}' "$TMP/cg"
}
for w in "${@:-$ROOT/worker/python/worker.py}"; do
  per=""; cyc=""
  for _ in $(seq 1 "$REPS"); do
    read -r a ca < <(total "$w" "$N1"); read -r b cb < <(total "$w" "$N2")
    per+="$(( (b - a) / (N2 - N1) )) "; cyc+="$(( (cb - ca) / (N2 - N1) )) "
  done
  echo "$w: instructions/request per repetition: $per"
  [ "${SIM:-0}" = 1 ] && echo "$w: cycle estimate/request per repetition: $cyc"
  true
done
