#!/usr/bin/env bash
# The seed app (Flask) behind nginx: supervise (uwsgi_pass) vs Debian's
# uWSGI (uwsgi_pass) vs Debian's gunicorn (proxy_pass, gthread), same
# processes and threads (the seed's myapp.ini: 4 x 2), request logging on in
# all (to a file), wrk on loopback. Runs are interleaved (A B C A B C ...) so
# drift on a noisy machine hits all; the medians are compared.
#   bench/seed.sh            # ROUNDS=3 WRK_SECONDS=10 WRK_CONNS=32
source "$(dirname "$0")/lib.sh"
need wrk nginx uwsgi gunicorn
ROUNDS=${ROUNDS:-3}
SUPERVISE=$(build_supervise)
SEED=$(cd "$(dirname "$0")/../examples/seed" && pwd)
PY=/usr/bin/python3

setup() { # NAME -> dir with app.py and myapp.ini pointing at its own socket
  local d="$BENCH_DIR/$1"; mkdir -p "$d"; cp "$SEED/app.py" "$d/"
  sed "s#/tmp/uwsgi.sock#$d/app.sock#" "$SEED/myapp.ini" > "$d/myapp.ini"
  echo "$d"
}
SV=$(setup supervise); UW=$(setup uwsgi); GU=$(setup gunicorn)
(cd "$SV" && exec "$SUPERVISE" --ini myapp.ini --python-bin "$PY" --logto "$SV/log") >/dev/null 2>&1 & PIDS+=($!)
(cd "$UW" && exec uwsgi --plugins python3 --ini myapp.ini --logto "$UW/log") >/dev/null 2>&1 & PIDS+=($!)
(cd "$GU" && exec gunicorn --workers 4 --threads 2 --worker-class gthread --bind "unix:$GU/app.sock" --access-logfile "$GU/log" app:app) >/dev/null 2>&1 & PIDS+=($!)
wait_for "$SV/app.sock"; wait_for "$UW/app.sock"; wait_for "$GU/app.sock"
nginx_front sv "server unix:$SV/app.sock;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;"; SV_PORT=$NGINX_PORT
nginx_front uw "server unix:$UW/app.sock;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;"; UW_PORT=$NGINX_PORT
nginx_front gu "server unix:$GU/app.sock;" "proxy_pass http://app; proxy_set_header Host \$host;"; GU_PORT=$NGINX_PORT
for port in $SV_PORT $UW_PORT $GU_PORT; do curl -fsS "http://127.0.0.1:$port/user/warmup" >/dev/null; done

sv_rps=(); sv_p99=(); uw_rps=(); uw_p99=(); gu_rps=(); gu_p99=(); fails=0
for r in $(seq 1 "$ROUNDS"); do
  read -r a b e < <(run_wrk "http://127.0.0.1:$SV_PORT/user/bob"); sv_rps+=("$a"); sv_p99+=("$b"); fails=$((fails+e))
  read -r a b e < <(run_wrk "http://127.0.0.1:$UW_PORT/user/bob"); uw_rps+=("$a"); uw_p99+=("$b"); fails=$((fails+e))
  read -r a b e < <(run_wrk "http://127.0.0.1:$GU_PORT/user/bob"); gu_rps+=("$a"); gu_p99+=("$b"); fails=$((fails+e))
  echo "round $r: supervise ${sv_rps[-1]} req/s p99 ${sv_p99[-1]} ms | uwsgi ${uw_rps[-1]} req/s p99 ${uw_p99[-1]} ms | gunicorn ${gu_rps[-1]} req/s p99 ${gu_p99[-1]} ms" >&2
done
S=$(echo "${sv_rps[*]}" | median); U=$(echo "${uw_rps[*]}" | median)
SP=$(echo "${sv_p99[*]}" | median); UP=$(echo "${uw_p99[*]}" | median)
G=$(echo "${gu_rps[*]}" | median); GP=$(echo "${gu_p99[*]}" | median)
printf '\n%-34s %12s %10s\n' "seed app behind nginx (median of $ROUNDS)" "req/s" "p99 ms"
printf '%-34s %12s %10s\n' "supervise (4 procs x 2 threads)" "$S" "$SP"
printf '%-34s %12s %10s\n' "uwsgi --plugins python3" "$U" "$UP"
printf '%-34s %12s %10s\n' "gunicorn gthread (proxy_pass)" "$G" "$GP"
printf 'throughput ratio supervise/uwsgi: %s   p99 ratio supervise/uwsgi: %s   failed requests: %s\n' "$(ratio "$S" "$U")" "$(ratio "$SP" "$UP")" "$fails"
printf 'throughput ratio supervise/gunicorn: %s   p99 ratio supervise/gunicorn: %s\n' "$(ratio "$S" "$G")" "$(ratio "$SP" "$GP")"
echo "request log lines: supervise $(grep -c 'request:' "$SV/log" || true), uwsgi $(grep -c 'GET /user' "$UW/log" || true)"
