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
  --spooler "$BENCH_DIR/spool-a" --spooler-processes "$P" ${QUIET:+--spooler-quiet} --env COUNT="$BENCH_DIR/count-a" >/dev/null 2>&1 & PIDS+=($!); RA=$!
(cd "$BENCH_DIR" && exec uwsgi --plugins python3 --master --http-socket 127.0.0.1:$PB --module spoolbench --disable-logging \
  --spooler "$BENCH_DIR/spool-b" --spooler-processes "$P" ${QUIET:+--spooler-quiet} --env COUNT="$BENCH_DIR/count-b") >/dev/null 2>&1 & PIDS+=($!); RB=$!
wait_for 127.0.0.1:$PA; wait_for 127.0.0.1:$PB

# run PORT COUNTFILE ROOTPID: queue N tasks in one request, wait for N
# bytes; prints "tasks/s us-per-enqueue cpu-us-per-task", the CPU time
# (user + system) of the whole process tree under ROOTPID (master,
# worker, spoolers), which the machine's other load does not inflate as
# much as wall-clock time
run() {
  /usr/bin/python3 - "$1" "$2" "$N" "$3" <<'PY'
import os, sys, time, urllib.request
port, count, n, root = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def tree_cpu():
    parent, ticks = {}, {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent[int(p)] = int(f[1])
            ticks[int(p)] = int(f[11]) + int(f[12])
    total = 0
    for pid, t in ticks.items():
        q = pid
        while q > 1 and q != root:
            q = parent.get(q, 0)
        if q == root:
            total += t
    return total / os.sysconf("SC_CLK_TCK")
cpu0 = tree_cpu()
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
elapsed = time.perf_counter() - t
print("%.0f %s %.0f" % (n / elapsed, enq, (tree_cpu() - cpu0) / n * 1e6))
PY
}
run $PA "$BENCH_DIR/count-a" $RA >/dev/null; run $PB "$BENCH_DIR/count-b" $RB >/dev/null # warm up: both spoolers loaded
echo "spooler: $N tasks queued in one request, enqueue to completion; P=$P spooler process(es); machine shared, ratios matter"
printf "%-6s %14s %14s %8s %14s %14s %14s %14s\n" round "supervise t/s" "uWSGI t/s" ratio "sv enq us" "uWSGI enq us" "sv CPU us/t" "uWSGI CPU us/t"
SA=(); SB=(); CA=(); CB=()
for r in $(seq 1 "$ROUNDS"); do
  read -r a ea ca < <(run $PA "$BENCH_DIR/count-a" $RA); read -r b eb cb < <(run $PB "$BENCH_DIR/count-b" $RB)
  SA+=("$a"); SB+=("$b"); CA+=("$ca"); CB+=("$cb")
  printf "%-6s %14s %14s %8s %14s %14s %14s %14s\n" "$r" "$a" "$b" "$(ratio "$a" "$b")" "$ea" "$eb" "$ca" "$cb"
done
ma=$(echo "${SA[*]}" | median); mb=$(echo "${SB[*]}" | median)
mca=$(echo "${CA[*]}" | median); mcb=$(echo "${CB[*]}" | median)
printf "%-6s %14s %14s %8s %14s %14s %14s %14s\n" median "$ma" "$mb" "$(ratio "$ma" "$mb")" "" "" "$mca" "$mcb"
