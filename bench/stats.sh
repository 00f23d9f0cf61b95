#!/usr/bin/env bash
# What the scoreboard and the stats server cost: a minimal WSGI app (so the
# per-request overhead is not hidden behind Flask) over http-socket, with
# (a) the scoreboard on and a stats client polling every second, like
# uwsgitop, and (b) scoreboard = false and no stats server. Interleaved runs.
#   bench/stats.sh           # ROUNDS=5 WRK_SECONDS=8
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
common=(--module hello --chdir "$BENCH_DIR" --processes 2 --threads 2 --python-bin /usr/bin/python3 --disable-logging)
"$SUPERVISE" --http-socket 127.0.0.1:$PA --stats 127.0.0.1:$PS "${common[@]}" >/dev/null 2>&1 & PIDS+=($!)
"$SUPERVISE" --http-socket 127.0.0.1:$PB --scoreboard false "${common[@]}" >/dev/null 2>&1 & PIDS+=($!)
wait_for 127.0.0.1:$PA; wait_for 127.0.0.1:$PB; wait_for 127.0.0.1:$PS
( while true; do "$SUPERVISE" stats 127.0.0.1:$PS >/dev/null 2>&1; sleep 1; done ) & PIDS+=($!)
on=""; off=""; fails=0
for r in $(seq 1 "$ROUNDS"); do
  read -r a b e < <(run_wrk "http://127.0.0.1:$PA/"); on+="$a "; fails=$((fails+e))
  read -r c d e < <(run_wrk "http://127.0.0.1:$PB/"); off+="$c "; fails=$((fails+e))
  echo "round $r: stats on $a req/s | off $c req/s" >&2
done
ON=$(echo "$on" | median); OFF=$(echo "$off" | median)
printf '\nminimal WSGI app, 2 x 2, http-socket (median of %s)   req/s\n' "$ROUNDS"
printf '%-52s %s\n' "scoreboard on + stats polled every second" "$ON" "scoreboard off, no stats server" "$OFF"
echo "ratio on/off: $(ratio "$ON" "$OFF")   failed: $fails"
"$SUPERVISE" stats 127.0.0.1:$PS | head -3
