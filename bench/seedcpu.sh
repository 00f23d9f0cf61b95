#!/usr/bin/env bash
# The seed app (myapp.ini's 4 x 2, request logging on to a file) under
# this supervise build, SUPERVISE_BASE (an older build, if set) and
# Debian's uWSGI (if installed; UWSGI=0 leaves it out), with nothing
# between the client and the workers: bench/uwsgiget sends N requests a
# round straight to each server's unix socket (C connections in flight),
# rounds interleaved, and the CPU time each server's process tree spent
# is read around every round from /proc/PID/task/TID/schedstat (time on
# a CPU in ns, every thread of the master and of its children), split
# into the master and the rest. Without wrk and nginx on the same cores,
# CPU per request moves far less with the machine's load than
# bench/seed.sh's does, so it can show a change of a few percent.
#   SUPERVISE_BASE=/path/to/old/supervise bench/seedcpu.sh   # ROUNDS=6 N=6000 C=8
#   bench/seedcpu.sh                                          # this build and uWSGI
#   PROCESSES=1 THREADS=2 bench/seedcpu.sh                    # another shape than the seed's 4 x 2
source "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-6}; N=${N:-6000}; C=${C:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUPERVISE=$(build_supervise)
(cd "$ROOT" && go build -o "$BENCH_DIR/uwsgiget" ./bench/uwsgiget)
GET=$BENCH_DIR/uwsgiget
NAMES=(new); [ -n "${SUPERVISE_BASE:-}" ] && NAMES+=(base)
[ "${UWSGI:-1}" = 1 ] && command -v uwsgi >/dev/null 2>&1 && NAMES+=(uwsgi)
declare -A P BIN=([new]=$SUPERVISE [base]=${SUPERVISE_BASE:-}) CPU MASTER
for name in "${NAMES[@]}"; do
  d=$BENCH_DIR/$name; mkdir -p "$d"; cp "$ROOT/examples/seed/app.py" "$d/"
  sed -e "s#/tmp/uwsgi.sock#$d/app.sock#" -e "s#^processes = .*#processes = ${PROCESSES:-4}#" \
    -e "s#^threads = .*#threads = ${THREADS:-2}#" "$ROOT/examples/seed/myapp.ini" > "$d/myapp.ini"
  if [ "$name" = uwsgi ]; then
    (cd "$d" && exec uwsgi --plugins python3 --ini myapp.ini --logto "$d/log") >/dev/null 2>&1 & PIDS+=($!); P[$name]=$!
  else
    (cd "$d" && exec "${BIN[$name]}" --ini myapp.ini --python-bin /usr/bin/python3 --logto "$d/log") >/dev/null 2>&1 & PIDS+=($!); P[$name]=$!
  fi
done
for name in "${NAMES[@]}"; do
  for _ in $(seq 1 200); do "$GET" -n 1 "unix:$BENCH_DIR/$name/app.sock" /user/bob 2>/dev/null && break; sleep 0.3; done
  "$GET" -c "$C" -n 500 "unix:$BENCH_DIR/$name/app.sock" /user/bob
done

# proc_ns PID: ns on a CPU of every thread of PID.
proc_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{t += $1} END {printf "%d", t}'; }
# tree_ns PID: "master_ns tree_ns" of PID and all its descendants.
tree_ns() {
  local m t=0 p kids=("$1")
  m=$(proc_ns "$1")
  while [ ${#kids[@]} -gt 0 ]; do
    p=${kids[0]}; kids=("${kids[@]:1}")
    t=$((t + $(proc_ns "$p")))
    kids+=($(pgrep -P "$p" || true))
  done
  echo "$m $t"
}
load0=$(cut -d' ' -f1 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
  line="round $r (load $(cut -d' ' -f1 /proc/loadavg)):"
  for name in "${NAMES[@]}"; do
    read -r m0 t0 < <(tree_ns "${P[$name]}")
    "$GET" -c "$C" -n "$N" "unix:$BENCH_DIR/$name/app.sock" /user/bob
    read -r m1 t1 < <(tree_ns "${P[$name]}")
    u=$(awk -v t=$((t1 - t0)) -v n="$N" 'BEGIN {printf "%.1f", t / 1e3 / n}')
    m=$(awk -v t=$((m1 - m0)) -v n="$N" 'BEGIN {printf "%.2f", t / 1e3 / n}')
    CPU[$name]+="$u "; MASTER[$name]+="$m "; line+=" $name $u us/req (master $m)"
  done
  echo "$line"
done
declare -A MED MMED
printf '\nseed app %s x %s, uwsgiget -c %s straight to the socket, %s requests a round, CPU per request of the process tree (median of %s rounds; load average %s at the start, %s at the end)\n' \
  "${PROCESSES:-4}" "${THREADS:-2}" "$C" "$N" "$ROUNDS" "$load0" "$(cut -d' ' -f1 /proc/loadavg)"
for name in "${NAMES[@]}"; do
  MED[$name]=$(echo "${CPU[$name]}" | median); MMED[$name]=$(echo "${MASTER[$name]}" | median)
  printf '%-6s %8s us/req, of it the master %s\n' "$name" "${MED[$name]}" "${MMED[$name]}"
done
perround() { paste -d' ' <(tr ' ' '\n' <<<"${CPU[$1]}") <(tr ' ' '\n' <<<"${CPU[$2]}") | awk 'NF == 2 {printf "%.2f ", $1 / $2}'; }
for pair in "new base" "new uwsgi" "base uwsgi"; do
  read -r a b <<<"$pair"
  [ -n "${MED[$a]:-}" ] && [ -n "${MED[$b]:-}" ] || continue
  printf '%s/%s %s (per round: %s)\n' "$a" "$b" "$(ratio "${MED[$a]}" "${MED[$b]}")" "$(perround "$a" "$b")"
done
