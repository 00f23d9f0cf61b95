#!/usr/bin/env bash
# The seed app (Flask) behind nginx: supervise (uwsgi_pass) vs Debian's
# uWSGI (uwsgi_pass) vs Debian's gunicorn (proxy_pass, gthread), same
# processes and threads (the seed's myapp.ini: 4 x 2), request logging on in
# all (to a file), wrk on loopback; plus supervise and uWSGI again with
# request logging off (--disable-logging), to separate logging's cost.
# Runs are interleaved (A B C D E A B C D E ...) so drift on a noisy machine
# hits all; the medians are compared. Besides req/s and p99 it reports the
# CPU time each server's whole process tree (master, workers, threads)
# spent per request, from /proc: wrk and nginx share the cores, so req/s
# moves with the machine's other load, the CPU a request costs much less.
# SUPERVISE_BASE=BINARY adds that supervise binary (an older build, say) as
# one more server, logging on, to compare builds side by side.
#   bench/seed.sh            # ROUNDS=3 WRK_SECONDS=10 WRK_CONNS=32 LOGOFF=1
source "$(dirname "$0")/lib.sh"
need wrk nginx uwsgi gunicorn
ROUNDS=${ROUNDS:-3}; LOGOFF=${LOGOFF:-1}
SUPERVISE=$(build_supervise)
SEED=$(cd "$(dirname "$0")/../examples/seed" && pwd)
PY=/usr/bin/python3

setup() { # NAME -> dir with app.py and myapp.ini pointing at its own socket
  local d="$BENCH_DIR/$1"; mkdir -p "$d"; cp "$SEED/app.py" "$d/"
  sed "s#/tmp/uwsgi.sock#$d/app.sock#" "$SEED/myapp.ini" > "$d/myapp.ini"
  echo "$d"
}
declare -A PID PORT LABEL
NAMES=(sv uw gu); [ "$LOGOFF" = 1 ] && NAMES+=(svq uwq); [ -n "${SUPERVISE_BASE:-}" ] && NAMES+=(svb)
LABEL=([sv]="supervise (4 procs x 2 threads)" [uw]="uwsgi --plugins python3" [gu]="gunicorn gthread (proxy_pass)"
  [svq]="supervise, logging off" [uwq]="uwsgi, logging off" [svb]="SUPERVISE_BASE")
for name in "${NAMES[@]}"; do
  d=$(setup "$name")
  case $name in
    sv) (cd "$d" && exec "$SUPERVISE" --ini myapp.ini --python-bin "$PY" --logto "$d/log") >/dev/null 2>&1 & PIDS+=($!) ;;
    svq) (cd "$d" && exec "$SUPERVISE" --ini myapp.ini --python-bin "$PY" --logto "$d/log" --disable-logging) >/dev/null 2>&1 & PIDS+=($!) ;;
    svb) (cd "$d" && exec "$SUPERVISE_BASE" --ini myapp.ini --python-bin "$PY" --logto "$d/log") >/dev/null 2>&1 & PIDS+=($!) ;;
    uw) (cd "$d" && exec uwsgi --plugins python3 --ini myapp.ini --logto "$d/log") >/dev/null 2>&1 & PIDS+=($!) ;;
    uwq) (cd "$d" && exec uwsgi --plugins python3 --ini myapp.ini --logto "$d/log" --disable-logging) >/dev/null 2>&1 & PIDS+=($!) ;;
    gu) (cd "$d" && exec gunicorn --workers 4 --threads 2 --worker-class gthread --bind "unix:$d/app.sock" --access-logfile "$d/log" app:app) >/dev/null 2>&1 & PIDS+=($!) ;;
  esac
  PID[$name]=$!
done
for name in "${NAMES[@]}"; do
  wait_for "$BENCH_DIR/$name/app.sock"
  case $name in
    gu) nginx_front "$name" "server unix:$BENCH_DIR/$name/app.sock;" "proxy_pass http://app; proxy_set_header Host \$host;" ;;
    *) nginx_front "$name" "server unix:$BENCH_DIR/$name/app.sock;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;" ;;
  esac
  PORT[$name]=$NGINX_PORT
  curl -fsS "http://127.0.0.1:${PORT[$name]}/user/warmup" >/dev/null
done

declare -A rps p99 cpu
fails=0
for r in $(seq 1 "$ROUNDS"); do
  line="round $r:"
  for name in "${NAMES[@]}"; do
    read -r a b e c < <(wrk_cpu "http://127.0.0.1:${PORT[$name]}/user/bob" "${PID[$name]}")
    rps[$name]+="$a "; p99[$name]+="$b "; cpu[$name]+="$c "; fails=$((fails + e))
    line+=" | $name $a req/s p99 $b ms cpu $c us/req"
  done
  echo "$line" >&2
done
declare -A R P C
printf '\n%-34s %12s %10s %14s\n' "seed app behind nginx (median of $ROUNDS)" "req/s" "p99 ms" "CPU us/req"
for name in "${NAMES[@]}"; do
  R[$name]=$(echo "${rps[$name]}" | median); P[$name]=$(echo "${p99[$name]}" | median); C[$name]=$(echo "${cpu[$name]}" | median)
  printf '%-34s %12s %10s %14s\n' "${LABEL[$name]}" "${R[$name]}" "${P[$name]}" "${C[$name]}"
done
printf 'supervise/uwsgi: req/s %s   p99 %s   CPU per request %s (per round: %s)   failed requests: %s\n' \
  "$(ratio "${R[sv]}" "${R[uw]}")" "$(ratio "${P[sv]}" "${P[uw]}")" "$(ratio "${C[sv]}" "${C[uw]}")" \
  "$(paste -d' ' <(tr ' ' '\n' <<<"${cpu[sv]}") <(tr ' ' '\n' <<<"${cpu[uw]}") | awk 'NF == 2 {printf "%.2f ", $1 / $2}')" "$fails"
printf 'supervise/gunicorn: req/s %s   p99 %s   CPU per request %s\n' "$(ratio "${R[sv]}" "${R[gu]}")" "$(ratio "${P[sv]}" "${P[gu]}")" "$(ratio "${C[sv]}" "${C[gu]}")"
if [ "$LOGOFF" = 1 ]; then
  printf 'logging off: supervise/uwsgi CPU per request %s; logging costs supervise %s us/req, uwsgi %s us/req\n' \
    "$(ratio "${C[svq]}" "${C[uwq]}")" "$(awk -v a="${C[sv]}" -v b="${C[svq]}" 'BEGIN {printf "%.1f", a - b}')" \
    "$(awk -v a="${C[uw]}" -v b="${C[uwq]}" 'BEGIN {printf "%.1f", a - b}')"
fi
if [ -n "${SUPERVISE_BASE:-}" ]; then
  printf 'supervise/SUPERVISE_BASE: req/s %s   p99 %s   CPU per request %s\n' "$(ratio "${R[sv]}" "${R[svb]}")" "$(ratio "${P[sv]}" "${P[svb]}")" "$(ratio "${C[sv]}" "${C[svb]}")"
  printf 'SUPERVISE_BASE/uwsgi: CPU per request %s\n' "$(ratio "${C[svb]}" "${C[uw]}")"
fi
echo "request log lines: supervise $(grep -c 'request:' "$BENCH_DIR/sv/log" || true), uwsgi $(grep -c 'GET /user' "$BENCH_DIR/uw/log" || true)"
