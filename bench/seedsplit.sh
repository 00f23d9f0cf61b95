#!/usr/bin/env bash
# The seed app (myapp.ini's 4 x 2, request logging on to a file) behind
# nginx (uwsgi_pass), wrk on loopback: supervise against Debian's uWSGI
# (and SUPERVISE_BASE, an older build, if set), rounds interleaved, with
# each process tree's costs split by role (master, zygote, workers) per
# request, read from /proc around every round by bench/procsplit.py: CPU
# time (schedstat), user and system time, minor faults, voluntary and
# involuntary context switches. The counts (faults, switches) move far
# less with the machine's load than the times do.
#   bench/seedsplit.sh          # ROUNDS=3 WRK_SECONDS=6 WRK_CONNS=32
#   SUPERVISE_BASE=/path/to/old/supervise bench/seedsplit.sh
#   FLOOR=1 bench/seedsplit.sh   # and bench/floorserver.py: the least a pure-Python server does a request
#   SUPERVISE_BASE=... BASE_PYTHON=/path/to/python bench/seedsplit.sh   # the base's workers on another interpreter
#   PROCESSES=1 THREADS=1 bench/seedsplit.sh   # another shape than the seed's 4 x 2
#   DIRECT=1 bench/seedsplit.sh   # no nginx, no wrk: bench/uwsgiget -c C -n N on the socket
# PERF=1 also runs `perf stat` on every process of each tree during one
# more round: task-clock, context switches, migrations, page faults, and
# system calls by kind (tracepoints: failing accepts, empty epoll_waits,
# futex), per request. perf needs root or kernel.perf_event_paranoid <= 1.
# PERFREC=1 samples every process of each tree with `perf record -e
# cpu-clock -F PERF_HZ` (software: works in a VM without counters) during
# one more round, and prints the trees' CPU per request by DSO and symbol
# side by side (bench/perfsyms.py).
source "$(dirname "$0")/lib.sh"
need wrk nginx uwsgi
ROUNDS=${ROUNDS:-3}; WRK_SECONDS=${WRK_SECONDS:-6}; export WRK_SECONDS
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SPLIT="/usr/bin/python3 $ROOT/bench/procsplit.py"
SUPERVISE=$(build_supervise)
(cd "$ROOT" && go build -o "$BENCH_DIR/uwsgiget" ./bench/uwsgiget)
DIRECT=${DIRECT:-0}; N=${N:-20000}; C=${C:-8}
NAMES=(sv uw); [ -n "${SUPERVISE_BASE:-}" ] && NAMES+=(svb); [ "${FLOOR:-0}" = 1 ] && NAMES+=(fl)
declare -A PID PORT
for name in "${NAMES[@]}"; do
  d=$BENCH_DIR/$name; mkdir -p "$d"; cp "$ROOT/examples/seed/app.py" "$d/"
  sed -e "s#/tmp/uwsgi.sock#$d/app.sock#" -e "s#^processes = .*#processes = ${PROCESSES:-4}#" \
    -e "s#^threads = .*#threads = ${THREADS:-2}#" "$ROOT/examples/seed/myapp.ini" > "$d/myapp.ini"
  case $name in
    sv) (cd "$d" && exec "$SUPERVISE" --ini myapp.ini --python-bin /usr/bin/python3 --logto "$d/log") >/dev/null 2>&1 & PIDS+=($!) ;;
    svb) (cd "$d" && exec "$SUPERVISE_BASE" --ini myapp.ini --python-bin "${BASE_PYTHON:-/usr/bin/python3}" --logto "$d/log") >/dev/null 2>&1 & PIDS+=($!) ;;
    uw) (cd "$d" && exec uwsgi --plugins python3 --ini myapp.ini --logto "$d/log") >/dev/null 2>&1 & PIDS+=($!) ;;
    fl) (cd "$d" && exec /usr/bin/python3 "$ROOT/bench/floorserver.py" "$d/app.sock" "${PROCESSES:-4}" "${THREADS:-2}" \
      "$d/log" app:app) >/dev/null 2>&1 & PIDS+=($!) ;;
  esac
  PID[$name]=$!
done
for name in "${NAMES[@]}"; do
  wait_for "$BENCH_DIR/$name/app.sock"
  nginx_front "$name" "server unix:$BENCH_DIR/$name/app.sock;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;"
  PORT[$name]=$NGINX_PORT
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:${PORT[$name]}/user/warmup" >/dev/null && break; sleep 0.2; done
  wrk -t2 -c32 -d2s "http://127.0.0.1:${PORT[$name]}/user/bob" >/dev/null # warm every worker
done
for r in $(seq 1 "$ROUNDS"); do
  for name in "${NAMES[@]}"; do
    $SPLIT snap "${PID[$name]}" > "$BENCH_DIR/a.json"
    if [ "$DIRECT" = 1 ]; then
      t0=$(date +%s.%N); "$BENCH_DIR/uwsgiget" -c "$C" -n "$N" "unix:$BENCH_DIR/$name/app.sock" /user/bob; t1=$(date +%s.%N)
      n=$N; rps=$(awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN {printf "%.0f", n / (b - a)}'); p99=-; fail=0
    else
      read -r rps p99 fail < <(run_wrk "http://127.0.0.1:${PORT[$name]}/user/bob")
      n=$(awk -v r="$rps" -v s="$WRK_SECONDS" 'BEGIN {printf "%d", r * s}')
    fi
    $SPLIT snap "${PID[$name]}" > "$BENCH_DIR/b.json"
    echo "round $r $name: $rps req/s, p99 $p99 ms, $fail failed, load $(cut -d' ' -f1 /proc/loadavg)"
    $SPLIT diff "$BENCH_DIR/a.json" "$BENCH_DIR/b.json" "$n"
  done
done
if [ "${PERF:-0}" = 1 ]; then
  need perf
  EV=(-e task-clock,context-switches,cpu-migrations,page-faults -e raw_syscalls:sys_enter
    -e syscalls:sys_enter_accept4 -e syscalls:sys_exit_accept4 --filter 'ret < 0'
    -e syscalls:sys_enter_epoll_wait -e syscalls:sys_exit_epoll_wait --filter 'ret == 0'
    -e syscalls:sys_enter_futex -e syscalls:sys_enter_read -e syscalls:sys_enter_preadv2
    -e syscalls:sys_enter_write -e syscalls:sys_enter_writev -e syscalls:sys_enter_close)
  # PERF_EVENTS: more, e.g. uprobes made with `perf probe -x /usr/bin/python3.11 PyTraceBack_Here`
  [ -n "${PERF_EVENTS:-}" ] && EV+=(-e "$PERF_EVENTS")
  for name in "${NAMES[@]}"; do
    $SPLIT snap "${PID[$name]}" > "$BENCH_DIR/b.json"
    pids=$(/usr/bin/python3 -c 'import json,sys; print(",".join(json.load(open(sys.argv[1])).keys()))' "$BENCH_DIR/b.json")
    if [ "$DIRECT" = 1 ]; then # counted while the client runs
      perf stat "${EV[@]}" -p "$pids" -o "$BENCH_DIR/perf-$name" -- \
        "$BENCH_DIR/uwsgiget" -c "$C" -n "$N" "unix:$BENCH_DIR/$name/app.sock" /user/bob
      n=$N
    else
      perf stat "${EV[@]}" -p "$pids" -o "$BENCH_DIR/perf-$name" -- sleep "$WRK_SECONDS" &
      pp=$!
      read -r rps p99 fail < <(run_wrk "http://127.0.0.1:${PORT[$name]}/user/bob")
      wait $pp
      n=$(awk -v r="$rps" -v s="$WRK_SECONDS" 'BEGIN {printf "%d", r * s}')
    fi
    echo "perf stat $name, per request ($n requests; accept4 and epoll_wait exits: the failing and the empty ones):"
    awk -v n="$n" '$1 ~ /^[0-9.,]+$/ && NF >= 2 && $2 != "seconds" {v=$1; gsub(",", "", v); k=$2
      if (k == "msec") {k="task-clock (us)"; v *= 1000}; printf "  %-34s %9.3f\n", k, v / n}' "$BENCH_DIR/perf-$name"
  done
fi
if [ "${PERFREC:-0}" = 1 ]; then
  need perf
  HZ=${PERF_HZ:-2000}; ARGS=()
  for name in "${NAMES[@]}"; do
    $SPLIT snap "${PID[$name]}" > "$BENCH_DIR/b.json"
    pids=$(/usr/bin/python3 -c 'import json,sys; print(",".join(json.load(open(sys.argv[1])).keys()))' "$BENCH_DIR/b.json")
    perf record -q -e cpu-clock -F "$HZ" -p "$pids" -o "$BENCH_DIR/rec-$name" -- sleep "$WRK_SECONDS" 2>/dev/null &
    pp=$!
    read -r rps p99 fail < <(run_wrk "http://127.0.0.1:${PORT[$name]}/user/bob")
    wait $pp
    n=$(awk -v r="$rps" -v s="$WRK_SECONDS" 'BEGIN {printf "%d", r * s}')
    echo "perf record $name: $rps req/s, $n requests, load $(cut -d' ' -f1 /proc/loadavg)"
    ARGS+=("$name:$BENCH_DIR/rec-$name:$n")
  done
  /usr/bin/python3 "$ROOT/bench/perfsyms.py" "$HZ" "${ARGS[@]}"
  [ -n "${PERF_KEEP:-}" ] && cp "$BENCH_DIR"/rec-* "$PERF_KEEP"/
fi
