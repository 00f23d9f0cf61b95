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
# Needs valgrind and /usr/bin/python3 with Flask. About 40 s a repetition.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-2}; N1=${N1:-200}; N2=${N2:-1200}
command -v valgrind >/dev/null 2>&1 || { echo "bench: opcost.sh needs valgrind: apt-get install -y valgrind" >&2; exit 2; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
total() { # WORKER N
  PYTHONHASHSEED=0 TRACE=0 N=$2 WORKER=$1 valgrind -q --tool=callgrind --callgrind-out-file="$TMP/cg" \
    /usr/bin/python3 "$ROOT/bench/opcount.py" >/dev/null
  awk '/^totals:/ {print $2}' "$TMP/cg"
}
for w in "${@:-$ROOT/worker/python/worker.py}"; do
  per=""
  for _ in $(seq 1 "$REPS"); do
    a=$(total "$w" "$N1"); b=$(total "$w" "$N2")
    per+="$(( (b - a) / (N2 - N1) )) "
  done
  echo "$w: instructions/request per repetition: $per"
done
