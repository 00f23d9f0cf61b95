#!/usr/bin/env bash
# What the scoreboard and the stats server cost: a minimal WSGI app (so the
# per-request overhead is not hidden behind Flask) over http-socket, with
# (a) the scoreboard on and a stats client polling every second, like
# uwsgitop, and (b) scoreboard = false and no stats server. Interleaved
# runs. Besides req/s (noisy on a shared 2-core machine) it reports the
# workers' CPU time per request from /proc, which noise moves much less.
#   bench/stats.sh           # ROUNDS=5 WRK_SECONDS=8
#   APP=seed bench/stats.sh  # the seed's Flask app (/user/bob) instead
source "$(dirname "$0")/lib.sh"
need wrk
ROUNDS=${ROUNDS:-5}
SUPERVISE=$(build_supervise)
cat > "$BENCH_DIR/hello.py" <<'PY'
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]
PY
PA=$(free_port); PB=$(free_port); PS=$(free_port)
MODULE=hello; URLPATH=/
if [ "${APP:-}" = seed ]; then
  cp "$(dirname "$0")/../examples/seed/app.py" "$BENCH_DIR/"; MODULE=app:app; URLPATH=/user/bob
fi
common=(--module "$MODULE" --chdir "$BENCH_DIR" --processes 2 --threads 2 --python-bin /usr/bin/python3 --disable-logging)
"$SUPERVISE" --http-socket 127.0.0.1:$PA --stats 127.0.0.1:$PS "${common[@]}" >/dev/null 2>&1 & PIDS+=($!); MA=$!
"$SUPERVISE" --http-socket 127.0.0.1:$PB --scoreboard false "${common[@]}" >/dev/null 2>&1 & PIDS+=($!); MB=$!
wait_for 127.0.0.1:$PA; wait_for 127.0.0.1:$PB; wait_for 127.0.0.1:$PS
( while true; do "$SUPERVISE" stats 127.0.0.1:$PS >/dev/null 2>&1; sleep 1; done ) & PIDS+=($!)

ticks() { local t=0 a b; for p in $(ps --ppid "$1" -o pid=); do read -r a b < <(awk '{print $14, $15}' "/proc/$p/stat"); t=$((t + a + b)); done; echo "$t"; }
# measure MASTER PORT -> "req/s cpu_us_per_request failures"
measure() {
  local t0 t1 out rps reqs errs
  t0=$(ticks "$1")
  out=$(wrk -t2 -c32 -d"${WRK_SECONDS:-8}s" "http://127.0.0.1:$2$URLPATH")
  t1=$(ticks "$1")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out"); reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  errs=$(awk '/Non-2xx|Socket errors/ {n++} END {print n+0}' <<<"$out")
  echo "$rps $(awk -v t=$((t1 - t0)) -v r="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t * 1e6 / hz / r}') $errs"
}
on=""; off=""; con=""; coff=""; fails=0
for r in $(seq 1 "$ROUNDS"); do # ABBA: whichever runs first in a round alternates
  if (( r % 2 )); then
    read -r a c e < <(measure $MA $PA); on+="$a "; con+="$c "; fails=$((fails+e))
    read -r b d e < <(measure $MB $PB); off+="$b "; coff+="$d "; fails=$((fails+e))
  else
    read -r b d e < <(measure $MB $PB); off+="$b "; coff+="$d "; fails=$((fails+e))
    read -r a c e < <(measure $MA $PA); on+="$a "; con+="$c "; fails=$((fails+e))
  fi
  echo "round $r: on $a req/s, $c us CPU/request | off $b req/s, $d us CPU/request" >&2
done
ON=$(echo "$on" | median); OFF=$(echo "$off" | median)
CON=$(echo "$con" | median); COFF=$(echo "$coff" | median)
printf '\n%s app, 2 x 2, http-socket (median of %s)   req/s   worker CPU us/request\n' "${APP:-minimal}" "$ROUNDS"
printf '%-48s %10s %10s\n' "scoreboard on + stats polled every second" "$ON" "$CON" "scoreboard off, no stats server" "$OFF" "$COFF"
echo "req/s ratio on/off: $(ratio "$ON" "$OFF")   CPU per request ratio on/off: $(ratio "$CON" "$COFF")   failed: $fails"
