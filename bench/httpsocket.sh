#!/usr/bin/env bash
# The seed app (Flask, 4 processes x 2 threads, request logging to a file)
# served over HTTP by the workers themselves: supervise --http-socket vs
# uwsgi --http-socket (Debian's 2.0.21), wrk straight at them, rounds
# interleaved. Reports req/s, p99 and the CPU time each server's whole
# process tree spent per request (from /proc). uWSGI's http-socket closes
# every connection (HTTP/1.0 style) unless UWSGI_KEEPALIVE=1 runs it as
# --http11-socket; wrk counts each close as a read error, not a failure.
#   bench/httpsocket.sh      # ROUNDS=3 WRK_SECONDS=10 WRK_CONNS=32
source "$(dirname "$0")/lib.sh"
need wrk uwsgi
ROUNDS=${ROUNDS:-3}
SUPERVISE=$(build_supervise)
SEED=$(cd "$(dirname "$0")/../examples/seed" && pwd)
SV_PORT=$(free_port); UW_PORT=$(free_port)
for name in sv uw; do mkdir -p "$BENCH_DIR/$name"; cp "$SEED/app.py" "$BENCH_DIR/$name/"; done
(cd "$BENCH_DIR/sv" && exec "$SUPERVISE" --http-socket "127.0.0.1:$SV_PORT" --module app:app --processes 4 --threads 2 \
  --python-bin /usr/bin/python3 --logto "$BENCH_DIR/sv/log") >/dev/null 2>&1 & PIDS+=($!); SV_PID=$!
opt=--http-socket; [ "${UWSGI_KEEPALIVE:-0}" = 1 ] && opt=--http11-socket
(cd "$BENCH_DIR/uw" && exec uwsgi --plugins python3 --master $opt "127.0.0.1:$UW_PORT" --module app:app --processes 4 --threads 2 \
  --logto "$BENCH_DIR/uw/log") >/dev/null 2>&1 & PIDS+=($!); UW_PID=$!
wait_for "127.0.0.1:$SV_PORT"; wait_for "127.0.0.1:$UW_PORT"
for port in $SV_PORT $UW_PORT; do
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/user/warmup" >/dev/null 2>&1 && break; sleep 0.1; done
done
sv_rps=(); sv_p99=(); sv_cpu=(); uw_rps=(); uw_p99=(); uw_cpu=(); fails=0
for r in $(seq 1 "$ROUNDS"); do
  read -r a b e c < <(wrk_cpu "http://127.0.0.1:$SV_PORT/user/bob" "$SV_PID"); sv_rps+=("$a"); sv_p99+=("$b"); sv_cpu+=("$c"); fails=$((fails + e))
  read -r a b e c < <(wrk_cpu "http://127.0.0.1:$UW_PORT/user/bob" "$UW_PID"); uw_rps+=("$a"); uw_p99+=("$b"); uw_cpu+=("$c")
  echo "round $r: supervise ${sv_rps[-1]} req/s p99 ${sv_p99[-1]} ms cpu ${sv_cpu[-1]} us/req | uwsgi ${uw_rps[-1]} req/s p99 ${uw_p99[-1]} ms cpu ${uw_cpu[-1]} us/req" >&2
done
S=$(echo "${sv_rps[*]}" | median); U=$(echo "${uw_rps[*]}" | median)
SP=$(echo "${sv_p99[*]}" | median); UP=$(echo "${uw_p99[*]}" | median)
SC=$(echo "${sv_cpu[*]}" | median); UC=$(echo "${uw_cpu[*]}" | median)
printf '\n%-34s %12s %10s %14s\n' "seed app, http-socket (median of $ROUNDS)" "req/s" "p99 ms" "CPU us/req"
printf '%-34s %12s %10s %14s\n' "supervise --http-socket" "$S" "$SP" "$SC" "uwsgi $opt" "$U" "$UP" "$UC"
printf 'supervise/uwsgi: req/s %s   p99 %s   CPU per request %s   supervise failed requests: %s\n' \
  "$(ratio "$S" "$U")" "$(ratio "$SP" "$UP")" "$(ratio "$SC" "$UC")" "$fails"
