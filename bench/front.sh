#!/usr/bin/env bash
# The HTTP front end: the same supervise workers running the seed app
# (examples/seed, 4 processes x 2 threads, one unix uwsgi socket) behind
#   A. supervise http --to unix:SOCK             (supervise's front end)
#   B. nginx uwsgi_pass unix:SOCK + uwsgi_params (1 nginx worker)
#   C. uwsgi --plugins http,python3 --http ADDR --http-to SOCK --http-keepalive
#      (uWSGI's router; without keepalive it closes every connection)
# No access log on any front (nginx's is off in lib.sh; uWSGI's router has
# none); the workers log every request to a file. Rounds are interleaved
# (A B C A B C ...) and the medians compared. Besides req/s and p99 it
# reports each front end's own CPU time per request (from /proc), which
# the machine's other load disturbs less.
#   bench/front.sh            # ROUNDS=3 WRK_SECONDS=10 WRK_CONNS=32
source "$(dirname "$0")/lib.sh"
need wrk nginx uwsgi
ROUNDS=${ROUNDS:-3}
SUPERVISE=$(build_supervise)
SEED=$(cd "$(dirname "$0")/../examples/seed" && pwd)
PY=/usr/bin/python3
URL_PATH=${URL_PATH:-/user/bob}

D="$BENCH_DIR/workers"; mkdir -p "$D"; cp "$SEED/app.py" "$D/"
sed "s#/tmp/uwsgi.sock#$D/app.sock#" "$SEED/myapp.ini" > "$D/myapp.ini"
(cd "$D" && exec "$SUPERVISE" --ini myapp.ini --python-bin "$PY" --logto "$D/log") >/dev/null 2>&1 & PIDS+=($!)
wait_for "$D/app.sock"

SV_PORT=$(free_port)
"$SUPERVISE" http --listen "127.0.0.1:$SV_PORT" --to "unix:$D/app.sock" --disable-logging \
  ${FRONT_FLAGS:-} 2>"$BENCH_DIR/front.log" & PIDS+=($!); SV_PID=$!
nginx_front ng "server unix:$D/app.sock;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;"; NG_PORT=$NGINX_PORT; NG_PID=${PIDS[-1]}
UW_PORT=$(free_port)
(cd "$BENCH_DIR" && exec uwsgi --plugins http,python3 --master --http "127.0.0.1:$UW_PORT" \
  --http-to "$D/app.sock" --http-keepalive --processes 1 --disable-logging) >"$BENCH_DIR/uwsgi-router.log" 2>&1 & PIDS+=($!); UW_PID=$!
wait_for "127.0.0.1:$SV_PORT"; wait_for "127.0.0.1:$UW_PORT"
for port in $SV_PORT $NG_PORT $UW_PORT; do curl -fsS "http://127.0.0.1:$port$URL_PATH" >/dev/null; done

# cpu_ticks PID: CPU time (clock ticks) of PID and its children so far:
# the front end's own cost, whatever the machine's other load.
cpu_ticks() { local t=0 p; for p in $1 $(pgrep -P "$1" || true); do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
HZ=$(getconf CLK_TCK)
# round NAME PORT PID: one wrk run; prints "req/s p99 errors cpu_us_per_request"
round() {
  local c0 c1 a b e; c0=$(cpu_ticks "$3")
  read -r a b e < <(run_wrk "http://127.0.0.1:$2$URL_PATH")
  c1=$(cpu_ticks "$3")
  echo "$a $b $e $(awk -v t=$((c1 - c0)) -v hz="$HZ" -v rps="$a" -v s="${WRK_SECONDS:-10}" 'BEGIN { printf "%.1f", t / hz * 1e6 / (rps * s) }')"
}
sv_rps=(); sv_p99=(); sv_cpu=(); ng_rps=(); ng_p99=(); ng_cpu=(); uw_rps=(); uw_p99=(); uw_cpu=(); sv_fail=0; ng_fail=0; uw_fail=0
for r in $(seq 1 "$ROUNDS"); do
  read -r a b e c < <(round sv "$SV_PORT" "$SV_PID"); sv_rps+=("$a"); sv_p99+=("$b"); sv_cpu+=("$c"); sv_fail=$((sv_fail+e))
  read -r a b e c < <(round ng "$NG_PORT" "$NG_PID"); ng_rps+=("$a"); ng_p99+=("$b"); ng_cpu+=("$c"); ng_fail=$((ng_fail+e))
  read -r a b e c < <(round uw "$UW_PORT" "$UW_PID"); uw_rps+=("$a"); uw_p99+=("$b"); uw_cpu+=("$c"); uw_fail=$((uw_fail+e))
  echo "round $r: supervise http ${sv_rps[-1]} req/s p99 ${sv_p99[-1]} ms cpu ${sv_cpu[-1]} us/req | nginx ${ng_rps[-1]} req/s p99 ${ng_p99[-1]} ms cpu ${ng_cpu[-1]} us/req | uwsgi router ${uw_rps[-1]} req/s p99 ${uw_p99[-1]} ms cpu ${uw_cpu[-1]} us/req" >&2
done
S=$(echo "${sv_rps[*]}" | median); SP=$(echo "${sv_p99[*]}" | median)
N=$(echo "${ng_rps[*]}" | median); NP=$(echo "${ng_p99[*]}" | median)
U=$(echo "${uw_rps[*]}" | median); UP=$(echo "${uw_p99[*]}" | median)
SC=$(echo "${sv_cpu[*]}" | median); NC=$(echo "${ng_cpu[*]}" | median); UC=$(echo "${uw_cpu[*]}" | median)
printf '\n%-44s %12s %10s %16s\n' "seed app, front ends (median of $ROUNDS)" "req/s" "p99 ms" "front CPU us/req"
printf '%-44s %12s %10s %16s\n' "supervise http --to unix:SOCK" "$S" "$SP" "$SC"
printf '%-44s %12s %10s %16s\n' "nginx uwsgi_pass (1 worker)" "$N" "$NP" "$NC"
printf '%-44s %12s %10s %16s\n' "uwsgi --http --http-to (router)" "$U" "$UP" "$UC"
printf 'throughput supervise/nginx: %s (target >= 1.0)   p99 supervise/nginx: %s (target <= 1.0)\n' "$(ratio "$S" "$N")" "$(ratio "$SP" "$NP")"
printf 'throughput supervise/uwsgi-router: %s (target >= 1.5)   p99 supervise/uwsgi-router: %s\n' "$(ratio "$S" "$U")" "$(ratio "$SP" "$UP")"
printf 'front CPU per request supervise/nginx: %s   supervise/uwsgi-router: %s\n' "$(ratio "$SC" "$NC")" "$(ratio "$SC" "$UC")"
echo "failed requests (socket errors + non-2xx): supervise $sv_fail, nginx $ng_fail, uwsgi router $uw_fail"
