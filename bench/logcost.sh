#!/usr/bin/env bash
# What a request line costs, end to end: CPU per request of each server's
# whole process tree (master and workers: supervise's master copies the
# workers' log pipes into the file) from /proc, a minimal WSGI app over
# http-socket, logging every request to a file:
#   supervise (Python worker): the fixed line, a combined log-format, JSON
#   uWSGI 2.0.21: its default line, the same log-format
#   supervise (Go worker, examples/hello-go): the fixed line, the log-format
#   and, for each server, disable-logging (the floor).
# Rounds interleave the servers (the order rotates), wrk -t1 -c8.
#   bench/logcost.sh           # ROUNDS=3 WRK_SECONDS=5
source "$(dirname "$0")/lib.sh"
need wrk uwsgi
ROUNDS=${ROUNDS:-3}
SUPERVISE=$(build_supervise)
(cd "$(dirname "$0")/.." && go build -o "$BENCH_DIR/hello" ./examples/hello-go)
cat > "$BENCH_DIR/hello.py" <<'PY'
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]
PY
FORMAT='%(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) "%(referer)" "%(uagent)" %(msecs)'
declare -A PORT MASTER
start() { # NAME CMD...: a server on a fresh port, logging to $BENCH_DIR/NAME.log
  local name=$1; shift; local port; port=$(free_port); PORT[$name]=$port
  "$1" --http-socket 127.0.0.1:$port "${@:2}" >"$BENCH_DIR/$name.out" 2>&1 & PIDS+=($!); MASTER[$name]=$!
}
py=(--module hello --chdir "$BENCH_DIR" --processes 2 --python-bin /usr/bin/python3)
go=(--processes 2 --threads 2)
start sv-off "$SUPERVISE" "${py[@]}" --disable-logging
start sv-fixed "$SUPERVISE" "${py[@]}" --logto "$BENCH_DIR/sv-fixed.log"
start sv-format "$SUPERVISE" "${py[@]}" --logto "$BENCH_DIR/sv-format.log" --log-format "$FORMAT"
start sv-json "$SUPERVISE" "${py[@]}" --logto "$BENCH_DIR/sv-json.log" --log-encoder json
uw=(uwsgi --plugins python3 --master --module hello --chdir "$BENCH_DIR" --processes 2)
start uw-off "${uw[@]}" --disable-logging
start uw-default "${uw[@]}" --logto "$BENCH_DIR/uw-default.log"
start uw-format "${uw[@]}" --logto "$BENCH_DIR/uw-format.log" --log-format "$FORMAT"
start go-off "$SUPERVISE" "${go[@]}" --disable-logging -- "$BENCH_DIR/hello"
start go-fixed "$SUPERVISE" "${go[@]}" --logto "$BENCH_DIR/go-fixed.log" -- "$BENCH_DIR/hello"
start go-format "$SUPERVISE" "${go[@]}" --logto "$BENCH_DIR/go-format.log" --log-format "$FORMAT" -- "$BENCH_DIR/hello"
NAMES=(sv-off sv-fixed sv-format sv-json uw-off uw-default uw-format go-off go-fixed go-format)
for n in "${NAMES[@]}"; do wait_for "127.0.0.1:${PORT[$n]}"; done
sleep 1 # workers past their imports

# ticks PID: CPU ticks of PID and every descendant.
ticks() {
  local t=0 a b p
  for p in $1 $(pgrep -P "$1" 2>/dev/null) $(for c in $(pgrep -P "$1" 2>/dev/null); do pgrep -P "$c"; done); do
    read -r a b < <(awk '{print $14, $15}' "/proc/$p/stat" 2>/dev/null || echo "0 0"); t=$((t + a + b))
  done
  echo "$t"
}
measure() { # NAME -> "req/s cpu_us_per_request failures"
  local t0 t1 out rps reqs errs
  t0=$(ticks "${MASTER[$1]}")
  out=$(wrk -t1 -c8 -d"${WRK_SECONDS:-5}s" "http://127.0.0.1:${PORT[$1]}/")
  t1=$(ticks "${MASTER[$1]}")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out"); reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  errs=$(awk '/Non-2xx|Socket errors/ {n++} END {print n+0}' <<<"$out")
  echo "$rps $(awk -v t=$((t1 - t0)) -v r="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t * 1e6 / hz / r}') $errs"
}
declare -A RPS CPU
fails=0
for r in $(seq 1 "$ROUNDS"); do
  order=("${NAMES[@]:r-1}" "${NAMES[@]:0:r-1}")
  for n in "${order[@]}"; do
    read -r a c e < <(measure "$n"); RPS[$n]+="$a "; CPU[$n]+="$c "; fails=$((fails+e)); [ "$e" = 0 ] || echo "$n: wrk reported errors" >&2
  done
  echo "round $r done" >&2
done
printf '\n%-52s %10s %12s\n' "minimal app, 2 processes, http-socket (median of $ROUNDS)" "req/s" "CPU us/req"
for n in "${NAMES[@]}"; do
  printf '%-52s %10s %12s\n' "$n" "$(echo "${RPS[$n]}" | median)" "$(echo "${CPU[$n]}" | median)"
done
c() { echo "${CPU[$1]}" | median; }
echo "log-format / fixed line, CPU per request: Python $(ratio "$(c sv-format)" "$(c sv-fixed)"), Go $(ratio "$(c go-format)" "$(c go-fixed)")"
echo "JSON / fixed line (Python): $(ratio "$(c sv-json)" "$(c sv-fixed)")"
echo "supervise / uWSGI, same log-format: $(ratio "$(c sv-format)" "$(c uw-format)")   logging off: $(ratio "$(c sv-off)" "$(c uw-off)")"
for n in sv-fixed sv-format sv-json uw-default uw-format go-fixed go-format; do
  echo "$n: $(wc -l <"$BENCH_DIR/$n.log") lines; last: $(tail -1 "$BENCH_DIR/$n.log" | cut -c1-150)"
done
echo "failed: $fails"
