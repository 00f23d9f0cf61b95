#!/usr/bin/env bash
# The Python request path counted, not timed: the seed app (Flask
# /user/bob) in one worker (1 process x 1 thread, unix socket, request
# logging on to a file) under valgrind's callgrind, supervise's worker
# against uWSGI's (Debian's 2.0.21, --plugins python3, no master so the
# worker is the process counted), the same 14 vars nginx's uwsgi_params
# sends, from bench/uwsgiget with CONNS in flight. Instructions per request
# are (I(N2) - I(N1)) / (N2 - N1) between callgrind dumps, the method of
# bench/cost.sh; they do not move with the machine's load, where CPU time
# on a shared 2-core machine moves by 50%. supervise runs with lazy-apps =
# true: callgrind_control cannot reach a process forked under valgrind
# (the zygote's workers), only one valgrind started.
# SUPERVISE_BASE=BINARY counts an older supervise build beside.
#
#   bench/hotpath.sh                       # REPS=3 N1=200 N2=2200 CONNS=4 LOGOFF=0
#   LOGOFF=1 bench/hotpath.sh              # also with --disable-logging
#   UWSGI=0 bench/hotpath.sh               # supervise only
#   THREADS=2 bench/hotpath.sh             # 1 x 2: the GIL's hand-offs counted too
#   SIM=1 bench/hotpath.sh                 # callgrind's cache and branch simulators on:
#     per request also L1/LL misses, branches and their mispredictions, and
#     callgrind's cycle estimate (Ir + 10 L1 misses + 100 LL misses + 20
#     mispredictions): whether fewer instructions are slower ones
# Needs: valgrind (callgrind_control, which needs ptrace), go, uwsgi with
# the python3 plugin, /usr/bin/python3 with Flask. A few minutes.
source "$(dirname "$0")/lib.sh"
need uwsgi
command -v callgrind_control >/dev/null 2>&1 || { echo "bench: hotpath.sh needs valgrind: apt-get install -y valgrind" >&2; exit 2; }
SIMARGS=(); [ "${SIM:-0}" = 1 ] && SIMARGS=(--cache-sim=yes --branch-sim=yes)
THREADS=${THREADS:-1}; REPS=${REPS:-3}; CONNS=${CONNS:-4}; N1=${N1:-200}; N2=${N2:-2200}; LOGOFF=${LOGOFF:-0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUPERVISE=$(build_supervise)
(cd "$ROOT" && go build -o "$BENCH_DIR/uwsgiget" ./bench/uwsgiget)
GET=$BENCH_DIR/uwsgiget
cp "$ROOT/examples/seed/app.py" "$BENCH_DIR/app.py"
URI=/user/bob

# start NAME SERVER(supervise|base|uwsgi) LOGGING(on|off): one worker under
# callgrind; sets DIR MPID WPID once a request succeeded.
start() {
  DIR=$BENCH_DIR/$1; mkdir -p "$DIR"
  local quiet=() bin=$SUPERVISE
  [ "$3" = off ] && quiet=(--disable-logging)
  case $2 in
    supervise|base)
      [ "$2" = base ] && bin=$SUPERVISE_BASE
      printf '#!/bin/sh\necho $$ > %s/worker.pid\nexec valgrind -q --tool=callgrind %s --callgrind-out-file=%s/cg.out /usr/bin/python3 "$@"\n' "$DIR" "${SIMARGS[*]}" "$DIR" > "$DIR/worker"
      chmod +x "$DIR/worker"
      "$bin" --socket "$DIR/app.sock" --processes 1 --threads "$THREADS" --module app:app --chdir "$BENCH_DIR" \
        --python-bin "$DIR/worker" --lazy-apps true --logto "$DIR/log" "${quiet[@]}" >"$DIR/out" 2>&1 & PIDS+=($!); MPID=$!
      ;;
    uwsgi)
      (cd "$BENCH_DIR" && exec valgrind -q --tool=callgrind "${SIMARGS[@]}" --callgrind-out-file="$DIR/cg.out" uwsgi --plugins python3 \
        --socket "$DIR/app.sock" --processes 1 --threads "$THREADS" --module app:app --logto "$DIR/log" "${quiet[@]}") >"$DIR/out" 2>&1 & PIDS+=($!); MPID=$!
      ;;
  esac
  for _ in $(seq 1 600); do
    "$GET" -n 1 "unix:$DIR/app.sock" "$URI" 2>/dev/null && break
    kill -0 "$MPID" 2>/dev/null || { echo "bench: $2 exited:" >&2; tail -20 "$DIR/out" "$DIR/log" >&2; exit 1; }
    sleep 0.5
  done
  case $2 in uwsgi) WPID=$MPID;; *) WPID=$(cat "$DIR/worker.pid");; esac
}

stop() { kill -INT "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null || true; }

DUMPS=0
dump() { # PID: COUNT = instructions since the previous dump
  DUMPS=$((DUMPS + 1))
  callgrind_control -d "$1" >/dev/null 2>"$DIR/vgdb.err" || { echo "bench: callgrind_control could not reach pid $1 (ptrace?):" >&2; cat "$DIR/vgdb.err" >&2; exit 1; }
  local f=$DIR/cg.out.$DUMPS
  for _ in $(seq 1 200); do grep -q '^totals:' "$f" 2>/dev/null && break; sleep 0.05; done
  COUNT=$(awk '/^totals:/ {print $2}' "$f")
  TOTALS=$(awk '/^totals:/ {$1=""; print}' "$f"); EVENTS=$(awk '/^events:/ {$1=""; print}' "$f")
  [ -n "$COUNT" ] || { echo "bench: no callgrind dump in $f" >&2; exit 1; }
}

declare -A I
count() { # SERVER LOGGING: I[SERVER,LOGGING] = median instructions/request
  local r a b per=""
  start "$1-$2" "$1" "$2"
  "$GET" -c "$CONNS" -n "$N1" "unix:$DIR/app.sock" "$URI"
  DUMPS=0; dump "$WPID"
  for r in $(seq 1 "$REPS"); do
    "$GET" -c "$CONNS" -n "$N1" "unix:$DIR/app.sock" "$URI"; dump "$WPID"; a=$COUNT; ta=$TOTALS
    "$GET" -c "$CONNS" -n "$N2" "unix:$DIR/app.sock" "$URI"; dump "$WPID"; b=$COUNT
    per+="$(( (b - a) / (N2 - N1) )) "
    [ "${SIM:-0}" = 1 ] && awk -v ev="$EVENTS" -v a="$ta" -v b="$TOTALS" -v n=$((N2 - N1)) -v who="$1" 'BEGIN {
      k = split(ev, e, " "); split(a, x, " "); split(b, y, " ")
      for (i = 1; i <= k; i++) v[e[i]] = (y[i] - x[i]) / n
      cyc = v["Ir"] + 10 * (v["I1mr"] + v["D1mr"] + v["D1mw"]) + 100 * (v["ILmr"] + v["DLmr"] + v["DLmw"]) + 20 * (v["Bcm"] + v["Bim"])
      printf "  %s per request:", who; for (i = 1; i <= k; i++) printf " %s %.0f", e[i], v[e[i]]
      printf " cycle-estimate %.0f\n", cyc }' >&2
  done
  stop
  echo "  $1 logging $2: instructions/request per repetition: $per" >&2
  I[$1,$2]=$(echo "$per" | median)
}

SERVERS=(supervise); [ "${UWSGI:-1}" = 1 ] && SERVERS+=(uwsgi); [ -n "${SUPERVISE_BASE:-}" ] && SERVERS+=(base)
LOGS=(on); [ "$LOGOFF" = 1 ] && LOGS+=(off)
for l in "${LOGS[@]}"; do for s in "${SERVERS[@]}"; do count "$s" "$l"; done; done

printf '\nseed app /user/bob, one worker (1 x %s) under callgrind, instructions per request, median of %s\n' "$THREADS" "$REPS"
printf '%-10s %-10s %12s %16s\n' logging server instr "supervise/this"
for l in "${LOGS[@]}"; do
  for s in "${SERVERS[@]}"; do
    printf '%-10s %-10s %12s %16s\n' "$l" "$s" "${I[$s,$l]}" "$(awk -v a="${I[supervise,$l]}" -v b="${I[$s,$l]}" 'BEGIN {printf "%.4f", a / b}')"
  done
done
