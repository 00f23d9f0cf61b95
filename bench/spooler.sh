#!/usr/bin/env bash
# Spooler throughput, enqueue to completion: one request queues N tasks
# with uwsgidecorators' @spool (Debian's, unmodified); each task appends
# one byte to a file; the clock stops when the file has N bytes. The same
# app under supervise and under uWSGI 2.0.21's spooler, side by side,
# with P spooler processes on one directory each.
#   bench/spooler.sh            # N=2000 P=1 ROUNDS=3
source "$(dirname "$0")/lib.sh"
need uwsgi curl
N=${N:-2000}; P=${P:-1}; ROUNDS=${ROUNDS:-3}
SUPERVISE=$(build_supervise)
cat > "$BENCH_DIR/spoolbench.py" <<'PY'
import os, time
from uwsgidecorators import spool
COUNT = os.environ["COUNT"]

@spool
def tick(args):
    fd = os.open(COUNT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, b".")
    os.close(fd)

def application(environ, start_response):
    n = int(environ.get("QUERY_STRING") or 1)
    t = time.perf_counter()
    for i in range(n):
        tick.spool(i=str(i))
    body = b"%.1f" % ((time.perf_counter() - t) / n * 1e6)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
PY
mkdir -p "$BENCH_DIR/spool-a" "$BENCH_DIR/spool-b"
PA=$(free_port); PB=$(free_port)
"$SUPERVISE" --http-socket 127.0.0.1:$PA --module spoolbench --chdir "$BENCH_DIR" --python-bin /usr/bin/python3 --disable-logging \
  --spooler "$BENCH_DIR/spool-a" --spooler-processes "$P" --env COUNT="$BENCH_DIR/count-a" >/dev/null 2>&1 & PIDS+=($!)
(cd "$BENCH_DIR" && exec uwsgi --plugins python3 --master --http-socket 127.0.0.1:$PB --module spoolbench --disable-logging \
  --spooler "$BENCH_DIR/spool-b" --spooler-processes "$P" --env COUNT="$BENCH_DIR/count-b") >/dev/null 2>&1 & PIDS+=($!)
wait_for 127.0.0.1:$PA; wait_for 127.0.0.1:$PB

# run PORT COUNTFILE: queue N tasks in one request, wait for N bytes;
# prints "tasks/s us-per-enqueue"
run() {
  /usr/bin/python3 - "$1" "$2" "$N" <<'PY'
import os, sys, time, urllib.request
port, count, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    os.unlink(count)
except FileNotFoundError:
    pass
t = time.perf_counter()
enq = urllib.request.urlopen("http://127.0.0.1:%s/?%d" % (port, n), timeout=600).read().decode()
while True:
    try:
        if os.stat(count).st_size >= n:
            break
    except FileNotFoundError:
        pass
    if time.perf_counter() - t > 600:
        sys.exit("timed out")
    time.sleep(0.001)
print("%.0f %s" % (n / (time.perf_counter() - t), enq))
PY
}
run $PA "$BENCH_DIR/count-a" >/dev/null; run $PB "$BENCH_DIR/count-b" >/dev/null # warm up: both spoolers loaded
echo "spooler: $N tasks queued in one request, enqueue to completion; P=$P spooler process(es); machine shared, ratios matter"
printf "%-6s %14s %14s %8s %16s %16s\n" round "supervise t/s" "uWSGI t/s" ratio "sv us/enqueue" "uWSGI us/enqueue"
SA=(); SB=()
for r in $(seq 1 "$ROUNDS"); do
  read -r a ea < <(run $PA "$BENCH_DIR/count-a"); read -r b eb < <(run $PB "$BENCH_DIR/count-b")
  SA+=("$a"); SB+=("$b")
  printf "%-6s %14s %14s %8s %16s %16s\n" "$r" "$a" "$b" "$(ratio "$a" "$b")" "$ea" "$eb"
done
ma=$(echo "${SA[*]}" | median); mb=$(echo "${SB[*]}" | median)
printf "%-6s %14s %14s %8s\n" median "$ma" "$mb" "$(ratio "$ma" "$mb")"
