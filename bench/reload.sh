#!/usr/bin/env bash
# Reloads under load, side by side: the seed app (4 x 2) behind nginx on
# supervise and on Debian's uWSGI. For each action wrk runs WRK_SECONDS
# with the action fired 2 s in; reported: failed requests, p99 over that
# window vs a steady window, and seconds from the action until every
# worker pid is new (polled the same way for both servers).
# Each row waits for a quiet machine first (settle).
# With ROUNDS=N every action runs N times, interleaved, and a last table
# gives each action's median ratio (one round's p99 moves a lot on a
# small, busy host). SUPERVISE_BASE=<a supervise binary> adds its three
# actions as "base ..." rows, interleaved with this tree's: an A/B.
# ONLY=<regex> runs only the rows whose name matches (e.g. ONLY=upgrade).
#   bench/reload.sh          # WRK_SECONDS=8 WRK_CONNS=32 ROUNDS=1
source "$(dirname "$0")/lib.sh"
need wrk nginx uwsgi
WRK_SECONDS=${WRK_SECONDS:-8}
ROUNDS=${ROUNDS:-1}
declare -A RATIOS
SUPERVISE=$(build_supervise)
SEED=$(cd "$(dirname "$0")/../examples/seed" && pwd)

setup() {
  local d="$BENCH_DIR/$1"; mkdir -p "$d"; cp "$SEED/app.py" "$d/"
  sed "s#/tmp/uwsgi.sock#$d/app.sock#" "$SEED/myapp.ini" > "$d/myapp.ini"
  printf 'master-fifo = %s/fifo\npidfile = %s/pid\n' "$d" "$d" >> "$d/myapp.ini"
  echo "$d"
}
SV=$(setup supervise); UW=$(setup uwsgi)
BASE=${SUPERVISE_BASE:-}
echo "lazy-apps = true" >> "$UW/myapp.ini" # uWSGI's chain reload needs it
(cd "$SV" && exec "$SUPERVISE" --ini myapp.ini --python-bin /usr/bin/python3 --logto "$SV/log") >/dev/null 2>&1 & PIDS+=($!)
(cd "$UW" && exec uwsgi --plugins python3 --ini myapp.ini --logto "$UW/log") >/dev/null 2>&1 & PIDS+=($!)
if [ -n "$BASE" ]; then
  SB=$(setup base)
  (cd "$SB" && exec "$BASE" --ini myapp.ini --python-bin /usr/bin/python3 --logto "$SB/log") >/dev/null 2>&1 & PIDS+=($!)
  wait_for "$SB/app.sock"
  nginx_front sb "server unix:$SB/app.sock;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;"; SB_PORT=$NGINX_PORT
fi
wait_for "$SV/app.sock"; wait_for "$UW/app.sock"
nginx_front sv "server unix:$SV/app.sock;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;"; SV_PORT=$NGINX_PORT
nginx_front uw "server unix:$UW/app.sock;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;"; UW_PORT=$NGINX_PORT
sleep 2

workers() { ps --ppid "$(cat "$1/pid")" -o pid= | sort -n | tr '\n' ' '; }

# all_new DIR BEFORE START: seconds until no pid of BEFORE is a worker and the count is back
all_new() {
  local d=$1 before=$2 start=$3 n; n=$(wc -w <<<"$before")
  for _ in $(seq 1 600); do
    local now; now=$(workers "$d")
    local overlap=0; for p in $before; do [[ " $now " == *" $p "* ]] && overlap=1; done
    if [ $overlap = 0 ] && [ "$(wc -w <<<"$now")" -ge "$n" ]; then
      awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e - s}'; return
    fi
    sleep 0.05
  done
  echo "never"
}

# settle: waits (up to 15 s) until the machine is quiet, >= 90% idle
# over half a second, so that a steady window is not measured while the
# previous action's last new workers still import their app (uWSGI's
# chain reload reports its pids new before its last worker is loaded).
settle() {
  local a b
  for _ in $(seq 1 30); do
    a=$(awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8, $5+$6}' /proc/stat); sleep 0.5
    b=$(awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8, $5+$6}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " "); t = y[1] - x[1]; exit !(t > 0 && (y[2] - x[2]) / t >= 0.9)}' && return
  done
}

# measure NAME DIR PORT ACTION: one row
measure() {
  local name=$1 d=$2 port=$3 action=$4 before start
  [[ "$name" =~ ${ONLY:-.} ]] || return 0
  settle
  read -r srps sp99 sfail < <(run_wrk "http://127.0.0.1:$port/user/bob")
  before=$(workers "$d")
  ( run_wrk "http://127.0.0.1:$port/user/bob" > "$BENCH_DIR/wrk.out" ) &
  local wrk_pid=$!
  sleep 2; start=$(date +%s.%N); eval "$action"
  local took; took=$(all_new "$d" "$before" "$start")
  wait $wrk_pid
  read -r rps p99 fail < "$BENCH_DIR/wrk.out"
  local r; r=$(ratio "$p99" "$sp99")
  RATIOS[$name]+="$r "
  printf '%-34s %8s %10s %10s %8s %12s\n' "$name" "$fail" "$sp99" "$p99" "$r" "$took"
}

printf '\n%-34s %8s %10s %10s %8s %12s\n' "action (seed app, 4 x 2, nginx)" "failed" "p99 steady" "p99 reload" "ratio" "all new (s)"
ACTIONS=("supervise graceful (SIGHUP)" "supervise chain (FIFO c)" "supervise upgrade (SIGUSR2)" "uwsgi graceful (SIGHUP)" "uwsgi chain (FIFO c, lazy-apps)")
[ -n "$BASE" ] && ACTIONS+=("base graceful (SIGHUP)" "base chain (FIFO c)" "base upgrade (SIGUSR2)")
for round in $(seq 1 "$ROUNDS"); do
  measure "${ACTIONS[0]}" "$SV" "$SV_PORT" 'kill -HUP $(cat $SV/pid)'
  measure "${ACTIONS[1]}" "$SV" "$SV_PORT" 'printf c > $SV/fifo'
  measure "${ACTIONS[2]}" "$SV" "$SV_PORT" 'kill -USR2 $(cat $SV/pid)'
  measure "${ACTIONS[3]}" "$UW" "$UW_PORT" 'kill -HUP $(cat $UW/pid)'
  measure "${ACTIONS[4]}" "$UW" "$UW_PORT" 'printf c > $UW/fifo'
  if [ -n "$BASE" ]; then
    measure "${ACTIONS[5]}" "$SB" "$SB_PORT" 'kill -HUP $(cat $SB/pid)'
    measure "${ACTIONS[6]}" "$SB" "$SB_PORT" 'printf c > $SB/fifo'
    measure "${ACTIONS[7]}" "$SB" "$SB_PORT" 'kill -USR2 $(cat $SB/pid)'
  fi
done
if [ "$ROUNDS" -gt 1 ]; then
  printf '\n%-34s %s\n' "action" "median p99 ratio (rounds)"
  for a in "${ACTIONS[@]}"; do
    if [[ "$a" =~ ${ONLY:-.} ]]; then printf '%-34s %s (%s)\n' "$a" "$(median <<<"${RATIOS[$a]}")" "${RATIOS[$a]% }"; fi
  done
fi
