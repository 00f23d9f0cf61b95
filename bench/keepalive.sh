#!/usr/bin/env bash
# Keep-alive clients against a pool with fewer threads than clients
# (docs/reliability.md, "An http-socket keep-alive client holds a
# thread"): 2 workers x 1 thread on the http-socket, CLIENTS keep-alive
# clients (bench/cmd/chaos load: Go's http.Transport, one connection per
# client, kept) for DURATION seconds, each request failing after TIMEOUT. Prints
# per round the requests served, the failures (clients left in the listen
# queue past TIMEOUT) and the CPU time the server's
# process tree spent per request. BASE=REV runs the same rounds on the
# tree at git revision REV too, interleaved (an A/B pair).
#   bench/keepalive.sh                 # ROUNDS=3 CLIENTS=4 DURATION=5 TIMEOUT=3s IDLERS=2
#   BASE=4858ed7 bench/keepalive.sh    # this tree against the one before the fix
# IDLERS=N (2) more keep-alive clients make one request each first, then
# hold their connections idle for the whole round (a browser's spare
# tab): before the idle rule they held both threads and every request of
# the load waited in the listen queue. IDLERS=0: the load alone.
# RATE=N paces the clients to N requests/s in all (bench/cmd/chaos -rate):
# gaps between a client's requests, in which its connection is idle.
source "$(dirname "$0")/lib.sh"
[ -x /usr/bin/python3 ] || { echo "bench: /usr/bin/python3 is missing" >&2; exit 2; }
ROUNDS=${ROUNDS:-3} CLIENTS=${CLIENTS:-4} DURATION=${DURATION:-5} TIMEOUT=${TIMEOUT:-3s} RATE=${RATE:-0} IDLERS=${IDLERS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
(cd "$ROOT" && go build -o "$BENCH_DIR/chaos" ./bench/cmd/chaos)
names=(this); bins=("$(build_supervise)")
if [ -n "${BASE:-}" ]; then
  mkdir -p "$BENCH_DIR/base-src"
  git -C "$ROOT" archive "$BASE" | tar -x -C "$BENCH_DIR/base-src"
  (cd "$BENCH_DIR/base-src" && go build -o "$BENCH_DIR/supervise-base" ./cmd/supervise)
  names+=("base $BASE"); bins+=("$BENCH_DIR/supervise-base")
fi
mkdir -p "$BENCH_DIR/app"
cat > "$BENCH_DIR/app/app.py" <<'PY'
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
PY
kv() { sed -nE "s/.*(^| )$2=(\"[^\"]*\"|[^ ]*).*/\2/p" <<<"$1"; }
echo "keep-alive: $CLIENTS clients, 2 workers x 1 thread, http-socket, ${DURATION}s rounds, timeout $TIMEOUT, rate $RATE/s (0: flat out), $IDLERS idle keep-alive clients; $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  for i in "${!bins[@]}"; do
    port=$(free_port)
    (cd "$BENCH_DIR/app" && exec "${bins[$i]}" --http-socket "127.0.0.1:$port" --module app --processes 2 --threads 1 \
      --disable-logging --python-bin /usr/bin/python3) >"$BENCH_DIR/master.log" 2>&1 & pid=$!; PIDS+=($pid)
    wait_for "127.0.0.1:$port"
    until grep -q "all workers ready" "$BENCH_DIR/master.log"; do sleep 0.05; done
    # IDLERS keep-alive connections make one request each, then idle:
    # one a worker (each waits for its answer, so the next one goes to a
    # worker whose thread is not taken yet).
    idle_fds=()
    for _ in $(seq 1 "$IDLERS"); do
      exec {fd}<>"/dev/tcp/127.0.0.1/$port"; idle_fds+=("$fd")
      printf 'GET / HTTP/1.1\r\nHost: bench\r\n\r\n' >&"$fd"
      read -r -t 5 -u "$fd" _ || { echo "bench: an idle client got no answer" >&2; exit 1; }
    done
    c0=$(tree_ticks "$pid")
    out=$("$BENCH_DIR/chaos" load -url "http://127.0.0.1:$port/" -c "$CLIENTS" -d "${DURATION}s" -timeout "$TIMEOUT" -rate "$RATE")
    c1=$(tree_ticks "$pid")
    for fd in "${idle_fds[@]}"; do exec {fd}>&-; done
    kill -INT "$pid"; wait "$pid" || true
    n=$(kv "$out" requests); [ -n "$n" ] || n=0
    cpu=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN {if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print 0}')
    printf 'round %s %-14s %s cpu_us_per_req=%s\n' "$r" "${names[$i]}:" "$out" "$cpu"
  done
done
