#!/usr/bin/env bash
# The HTTP front end: the same supervise workers running the seed app
# (examples/seed, 4 processes x 2 threads, one unix uwsgi socket) behind
#   A. supervise http --to unix:SOCK             (supervise's front end)
#   B. nginx uwsgi_pass unix:SOCK + uwsgi_params (1 nginx worker)
#   C. uwsgi --plugins http,python3 --http ADDR --http-to SOCK (uWSGI's router)
# No access log on any front (nginx's is off in lib.sh; uWSGI's router has
# none); the workers log every request to a file. Rounds are interleaved
# (A B C A B C ...) and the medians compared.
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
  ${FRONT_FLAGS:-} 2>"$BENCH_DIR/front.log" & PIDS+=($!)
nginx_front ng "server unix:$D/app.sock;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;"; NG_PORT=$NGINX_PORT
UW_PORT=$(free_port)
(cd "$BENCH_DIR" && exec uwsgi --plugins http,python3 --master --http "127.0.0.1:$UW_PORT" \
  --http-to "$D/app.sock" --processes 1 --disable-logging) >"$BENCH_DIR/uwsgi-router.log" 2>&1 & PIDS+=($!)
wait_for "127.0.0.1:$SV_PORT"; wait_for "127.0.0.1:$UW_PORT"
for port in $SV_PORT $NG_PORT $UW_PORT; do curl -fsS "http://127.0.0.1:$port$URL_PATH" >/dev/null; done

sv_rps=(); sv_p99=(); ng_rps=(); ng_p99=(); uw_rps=(); uw_p99=(); fails=0
for r in $(seq 1 "$ROUNDS"); do
  read -r a b e < <(run_wrk "http://127.0.0.1:$SV_PORT$URL_PATH"); sv_rps+=("$a"); sv_p99+=("$b"); fails=$((fails+e))
  read -r a b e < <(run_wrk "http://127.0.0.1:$NG_PORT$URL_PATH"); ng_rps+=("$a"); ng_p99+=("$b"); fails=$((fails+e))
  read -r a b e < <(run_wrk "http://127.0.0.1:$UW_PORT$URL_PATH"); uw_rps+=("$a"); uw_p99+=("$b"); fails=$((fails+e))
  echo "round $r: supervise http ${sv_rps[-1]} req/s p99 ${sv_p99[-1]} ms | nginx ${ng_rps[-1]} req/s p99 ${ng_p99[-1]} ms | uwsgi router ${uw_rps[-1]} req/s p99 ${uw_p99[-1]} ms" >&2
done
S=$(echo "${sv_rps[*]}" | median); SP=$(echo "${sv_p99[*]}" | median)
N=$(echo "${ng_rps[*]}" | median); NP=$(echo "${ng_p99[*]}" | median)
U=$(echo "${uw_rps[*]}" | median); UP=$(echo "${uw_p99[*]}" | median)
printf '\n%-44s %12s %10s\n' "seed app, front ends (median of $ROUNDS)" "req/s" "p99 ms"
printf '%-44s %12s %10s\n' "supervise http --to unix:SOCK" "$S" "$SP"
printf '%-44s %12s %10s\n' "nginx uwsgi_pass (1 worker)" "$N" "$NP"
printf '%-44s %12s %10s\n' "uwsgi --http --http-to (router)" "$U" "$UP"
printf 'throughput supervise/nginx: %s (target >= 1.0)   p99 supervise/nginx: %s (target <= 1.0)\n' "$(ratio "$S" "$N")" "$(ratio "$SP" "$NP")"
printf 'throughput supervise/uwsgi-router: %s (target >= 1.5)   p99 supervise/uwsgi-router: %s\n' "$(ratio "$S" "$U")" "$(ratio "$SP" "$UP")"
echo "failed requests (socket errors + non-2xx): $fails"
