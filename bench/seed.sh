#!/usr/bin/env bash
# The seed app (Flask) behind nginx uwsgi_pass: supervise vs Debian's uWSGI,
# same processes and threads (the seed's myapp.ini: 4 x 2), request logging
# on in both (to a file), wrk on loopback. Runs are interleaved (A B A B ...)
# so drift on a noisy machine hits both; the medians are compared.
#   bench/seed.sh            # ROUNDS=3 WRK_SECONDS=10 WRK_CONNS=32
source "$(dirname "$0")/lib.sh"
need wrk nginx uwsgi
ROUNDS=${ROUNDS:-3}
SUPERVISE=$(build_supervise)
SEED=$(cd "$(dirname "$0")/../examples/seed" && pwd)
PY=/usr/bin/python3

setup() { # NAME -> dir with app.py and myapp.ini pointing at its own socket
  local d="$BENCH_DIR/$1"; mkdir -p "$d"; cp "$SEED/app.py" "$d/"
  sed "s#/tmp/uwsgi.sock#$d/app.sock#" "$SEED/myapp.ini" > "$d/myapp.ini"
  echo "$d"
}
SV=$(setup supervise); UW=$(setup uwsgi)
(cd "$SV" && exec "$SUPERVISE" --ini myapp.ini --python-bin "$PY" --logto "$SV/log") >/dev/null 2>&1 & PIDS+=($!)
(cd "$UW" && exec uwsgi --plugins python3 --ini myapp.ini --logto "$UW/log") >/dev/null 2>&1 & PIDS+=($!)
wait_for "$SV/app.sock"; wait_for "$UW/app.sock"
nginx_front sv "server unix:$SV/app.sock;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;"; SV_PORT=$NGINX_PORT
nginx_front uw "server unix:$UW/app.sock;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;"; UW_PORT=$NGINX_PORT
for port in $SV_PORT $UW_PORT; do curl -fsS "http://127.0.0.1:$port/user/warmup" >/dev/null; done

sv_rps=(); sv_p99=(); uw_rps=(); uw_p99=(); fails=0
for r in $(seq 1 "$ROUNDS"); do
  read -r a b e < <(run_wrk "http://127.0.0.1:$SV_PORT/user/bob"); sv_rps+=("$a"); sv_p99+=("$b"); fails=$((fails+e))
  read -r a b e < <(run_wrk "http://127.0.0.1:$UW_PORT/user/bob"); uw_rps+=("$a"); uw_p99+=("$b"); fails=$((fails+e))
  echo "round $r: supervise ${sv_rps[-1]} req/s p99 ${sv_p99[-1]} ms | uwsgi ${uw_rps[-1]} req/s p99 ${uw_p99[-1]} ms" >&2
done
S=$(echo "${sv_rps[*]}" | median); U=$(echo "${uw_rps[*]}" | median)
SP=$(echo "${sv_p99[*]}" | median); UP=$(echo "${uw_p99[*]}" | median)
printf '\n%-34s %12s %10s\n' "seed app behind nginx (median of $ROUNDS)" "req/s" "p99 ms"
printf '%-34s %12s %10s\n' "supervise (4 procs x 2 threads)" "$S" "$SP"
printf '%-34s %12s %10s\n' "uwsgi --plugins python3" "$U" "$UP"
printf 'throughput ratio supervise/uwsgi: %s   p99 ratio supervise/uwsgi: %s   failed requests: %s\n' "$(ratio "$S" "$U")" "$(ratio "$SP" "$UP")" "$fails"
echo "request log lines: supervise $(grep -c 'request:' "$SV/log" || true), uwsgi $(grep -c 'GET /user' "$UW/log" || true)"
