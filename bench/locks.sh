#!/usr/bin/env bash
# What a uwsgi.lock()/unlock() section costs, under supervise and under
# uWSGI 2.0.21 (uwsgi --plugins python3), side by side. The same app
# times N empty locked sections inside one request (uncontended), and
# two workers doing it at once on lock 0 (contended across processes).
#   bench/locks.sh            # N=200000 ROUNDS=3
source "$(dirname "$0")/lib.sh"
need uwsgi curl
N=${N:-200000}; ROUNDS=${ROUNDS:-3}
SUPERVISE=$(build_supervise)
cat > "$BENCH_DIR/locks.py" <<'PY'
import time, uwsgi
def application(environ, start_response):
    n = int(environ.get("QUERY_STRING") or 100000)
    lock, unlock = uwsgi.lock, uwsgi.unlock
    t = time.perf_counter()
    for _ in range(n):
        lock()
        unlock()
    body = b"%.0f" % ((time.perf_counter() - t) / n * 1e9)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
PY
PA=$(free_port); PB=$(free_port)
"$SUPERVISE" --http-socket 127.0.0.1:$PA --module locks --chdir "$BENCH_DIR" --processes 2 --python-bin /usr/bin/python3 --disable-logging >/dev/null 2>&1 & PIDS+=($!)
(cd "$BENCH_DIR" && exec uwsgi --plugins python3 --master --http-socket 127.0.0.1:$PB --module locks --processes 2 --disable-logging) >/dev/null 2>&1 & PIDS+=($!)
wait_for 127.0.0.1:$PA; wait_for 127.0.0.1:$PB
curl -s "http://127.0.0.1:$PA/?1000" >/dev/null; curl -s "http://127.0.0.1:$PB/?1000" >/dev/null
# For scale: one trivial syscall here (supervise's lock is two fcntl calls).
/usr/bin/python3 -c 'import os,time
n=100000;t=time.perf_counter()
for _ in range(n): os.getppid()
print("one getppid() syscall from Python: %.0f ns" % ((time.perf_counter()-t)/n*1e9))'
echo "ns per lock()+unlock() (machine shared; N=$N)"
printf "%-10s %12s %12s %16s %16s\n" round supervise uWSGI "supervise x2" "uWSGI x2"
for r in $(seq 1 "$ROUNDS"); do
  a=$(curl -s "http://127.0.0.1:$PA/?$N"); b=$(curl -s "http://127.0.0.1:$PB/?$N")
  # contended: two requests at once (two workers) on the same lock
  a2=$( { curl -s -w '\n' "http://127.0.0.1:$PA/?$N" & curl -s -w '\n' "http://127.0.0.1:$PA/?$N"; wait; } | paste -sd/ )
  b2=$( { curl -s -w '\n' "http://127.0.0.1:$PB/?$N" & curl -s -w '\n' "http://127.0.0.1:$PB/?$N"; wait; } | paste -sd/ )
  printf "%-10s %12s %12s %16s %16s\n" "$r" "$a" "$b" "$a2" "$b2"
done
