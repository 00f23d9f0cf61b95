#!/usr/bin/env bash
# Go apps under supervise (examples/hello-go), side by side in one run:
#  1. supervise --http-socket (1 process) vs the same binary alone on plain net/http
#  2. nginx uwsgi_pass -> supervise vs nginx proxy_pass -> plain net/http
#  3. respawn latency: SIGKILL a worker, time until its replacement logs ready (50 kills, 2 s apart)
#   bench/go.sh              # ROUNDS=3 WRK_SECONDS=8 WRK_CONNS=32
source "$(dirname "$0")/lib.sh"
need wrk nginx
ROUNDS=${ROUNDS:-3}
SUPERVISE=$(build_supervise)
(cd "$(dirname "$0")/.." && go build -o "$BENCH_DIR/hello" ./examples/hello-go)
HELLO=$BENCH_DIR/hello

P1=$(free_port); P2=$(free_port); SOCK=$BENCH_DIR/go.sock
declare -A TREE # the process tree whose CPU time a row reports (the server's, not nginx's)
"$SUPERVISE" --http-socket 127.0.0.1:$P1 --processes 1 --threads 256 --disable-logging -- "$HELLO" >/dev/null 2>&1 & PIDS+=($!); TREE[sv-http]=$!
PORT=$P2 "$HELLO" >/dev/null 2>&1 & PIDS+=($!); TREE[plain]=$!; TREE[nginx-proxy]=$!
"$SUPERVISE" --socket "$SOCK" --processes 1 --threads 256 --disable-logging --logto "$BENCH_DIR/uwsgi-side.log" -- "$HELLO" >/dev/null 2>&1 & PIDS+=($!); TREE[nginx-uwsgi]=$!
wait_for 127.0.0.1:$P1; wait_for 127.0.0.1:$P2; wait_for "$SOCK"
nginx_front uw "server unix:$SOCK;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;"; NU=$NGINX_PORT
nginx_front px "server 127.0.0.1:$P2;" "proxy_pass http://app;"; NP=$NGINX_PORT

declare -A rps p99 cpu
fails=0
for r in $(seq 1 "$ROUNDS"); do
  for name in sv-http plain nginx-uwsgi nginx-proxy; do
    case $name in
      sv-http) url=http://127.0.0.1:$P1/ ;; plain) url=http://127.0.0.1:$P2/ ;;
      nginx-uwsgi) url=http://127.0.0.1:$NU/ ;; nginx-proxy) url=http://127.0.0.1:$NP/ ;;
    esac
    read -r a b e c < <(wrk_cpu "$url" "${TREE[$name]}"); rps[$name]+="$a "; p99[$name]+="$b "; cpu[$name]+="$c "; fails=$((fails+e))
  done
done
med() { echo "${1}" | median; }
printf '\n%-44s %10s %8s %18s\n' "Go hello app (median of $ROUNDS rounds)" "req/s" "p99 ms" "server CPU us/req"
for name in sv-http plain nginx-uwsgi nginx-proxy; do
  case $name in
    sv-http) label="supervise --http-socket (1 process)";; plain) label="plain net/http, no supervisor";;
    nginx-uwsgi) label="nginx uwsgi_pass -> supervise";; nginx-proxy) label="nginx proxy_pass -> plain net/http";;
  esac
  printf '%-44s %10s %8s %18s\n' "$label" "$(med "${rps[$name]}")" "$(med "${p99[$name]}")" "$(med "${cpu[$name]}")"
done
echo "server CPU per request: http-socket/plain $(ratio "$(med "${cpu[sv-http]}")" "$(med "${cpu[plain]}")"), nginx uwsgi/proxy $(ratio "$(med "${cpu[nginx-uwsgi]}")" "$(med "${cpu[nginx-proxy]}")") (supervise's whole tree against the plain binary)"
echo "ratio http-socket/plain: $(ratio "$(med "${rps[sv-http]}")" "$(med "${rps[plain]}")")   ratio nginx uwsgi/proxy: $(ratio "$(med "${rps[nginx-uwsgi]}")" "$(med "${rps[nginx-proxy]}")")   failed: $fails"

# Respawn latency: from the master reaping the killed worker to the new
# worker's own "ready" line (both log with millisecond stamps).
LOG=$BENCH_DIR/respawn.log
"$SUPERVISE" --socket "$BENCH_DIR/r.sock" --processes 1 --disable-logging --logto "$LOG" -- "$HELLO" >/dev/null 2>&1 & PIDS+=($!)
wait_for "$BENCH_DIR/r.sock"
for _ in $(seq 1 300); do grep -q 'all workers ready' "$LOG" && break; sleep 0.05; done
for i in $(seq 1 50); do
  pid=$(grep 'spawned worker' "$LOG" | tail -1 | sed 's/.*pid=\([0-9]*\).*/\1/')
  n=$(grep -c 'ready: pid=' "$LOG")
  kill -9 "$pid"
  for _ in $(seq 1 400); do [ "$(grep -c 'ready: pid=' "$LOG")" -gt "$n" ] && break; sleep 0.01; done
  sleep 2.1 # a worker younger than 2 s counts as a failed start and backs off; measure the healthy path
done
awk '
  function ms(ts,   t) { split(substr(ts, 12, 12), t, ":"); return (t[1]*3600 + t[2]*60 + t[3]) * 1000 }
  /worker died/ { died = ms($1) }
  /ready: pid=/ && died { print ms($1) - died; died = 0 }
' "$LOG" | sort -n | awk '{a[NR]=$1} END {printf "respawn latency over %d kills: median %.0f ms, p99 %.0f ms, max %.0f ms\n", NR, a[int((NR+1)/2)], a[int(NR*0.99+0.5)], a[NR]}'
