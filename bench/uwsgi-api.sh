#!/usr/bin/env bash
# What the uwsgi module's cache and locks cost, under supervise and under
# uWSGI 2.0.21 (uwsgi --plugins python3), side by side, same app, same
# ini: N calls timed inside one request (uncontended), then two requests
# at once on two workers (contended across processes), and the ratio.
#   bench/uwsgi-api.sh            # N=100000 ROUNDS=3
source "$(dirname "$0")/lib.sh"
need uwsgi curl
N=${N:-100000}; ROUNDS=${ROUNDS:-3}
SUPERVISE=$(build_supervise)
cat > "$BENCH_DIR/api.py" <<'PY'
import time, uwsgi
uwsgi.cache_update("hit", b"v" * 100)
def locked(n):
    lock, unlock = uwsgi.lock, uwsgi.unlock
    for _ in range(n):
        lock()
        unlock()
def get_hit(n):
    get = uwsgi.cache_get
    for _ in range(n):
        get("hit")
def get_miss(n):
    get = uwsgi.cache_get
    for _ in range(n):
        get("miss")
def update(n):
    upd, v = uwsgi.cache_update, b"w" * 100
    for _ in range(n):
        upd("upd", v)
def inc(n):
    inc = uwsgi.cache_inc
    for _ in range(n):
        inc("counter")
def empty(n):
    for _ in range(n):
        pass
def pyfn(n):  # the floor of any pure-Python uwsgi function: calling one that does nothing
    def f(key, value=None, expires=0, cache=None):
        return None
    for _ in range(n):
        f("upd", b"")
def cfn(n):  # what calling a C builtin costs (uWSGI's functions are C)
    f = isinstance
    for _ in range(n):
        f("upd", bytes)
def floor(n):  # supervise only: the shared-memory work one cache_update cannot skip, in a Python function
    try:
        import sys
        c = sys.modules["_supervise_uwsgi_cache"]._default
    except (KeyError, AttributeError):
        return
    w, mm, acquire, release, v, pid = c.w, c.mm, c.acquire, c.release, b"w" * 100, 1
    def f(key, value, expires=0, cache=None):
        acquire(False)
        w[18] = pid  # the lock's owner
        ver = w[19]  # the version
        mm[c.d0:c.d0 + len(value)] = value
        w[19] = ver + 1
        w[18] = 0
        release()
        return True
    for _ in range(n):
        f("upd", v)
OPS = {"/lock": locked, "/get": get_hit, "/miss": get_miss, "/update": update, "/inc": inc, "/empty": empty,
       "/pyfn": pyfn, "/cfn": cfn, "/floor": floor}
def application(environ, start_response):
    q = (environ.get("QUERY_STRING") or "1000").split(",")
    n = int(q[0])
    clock = time.perf_counter if "wall" in q else time.thread_time  # CPU time unless contended
    op = OPS[environ["PATH_INFO"]]
    t = clock()
    op(n)
    body = b"%.0f" % ((clock() - t) / n * 1e9)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
PY
cat > "$BENCH_DIR/api.ini" <<'INI'
[uwsgi]
module = api
processes = 2
disable-logging = true
cache2 = name=bench,items=1000,blocksize=4096
INI
PA=$(free_port); PB=$(free_port)
"$SUPERVISE" --ini "$BENCH_DIR/api.ini" --http-socket 127.0.0.1:$PA --chdir "$BENCH_DIR" --python-bin /usr/bin/python3 >/dev/null 2>&1 & PIDS+=($!)
(cd "$BENCH_DIR" && exec uwsgi --plugins python3 --master --ini api.ini --http-socket 127.0.0.1:$PB) >/dev/null 2>&1 & PIDS+=($!)
wait_for 127.0.0.1:$PA; wait_for 127.0.0.1:$PB
for op in lock get miss update inc empty pyfn cfn floor; do # warm both workers of each
  for _ in 1 2 3 4; do curl -s "http://127.0.0.1:$PA/$op?1000" >/dev/null; curl -s "http://127.0.0.1:$PB/$op?1000" >/dev/null; done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo "CPU ns per call (thread_time), loop overhead included (see empty); machine shared; N=$N"
printf "%-8s %-7s %10s %10s %7s\n" op round supervise uWSGI ratio
for op in empty pyfn cfn floor lock get miss update inc; do
  for r in $(seq 1 "$ROUNDS"); do
    a=$(curl -s "http://127.0.0.1:$PA/$op?$N"); b=$(curl -s "http://127.0.0.1:$PB/$op?$N")
    printf "%-8s %-7s %10s %10s %7s\n" "$op" "$r" "$a" "$b" "$(ratio "$a" "$b")"
  done
done
echo "two workers at once (contended), wall-clock ns per call in each:"
printf "%-8s %-7s %16s %16s\n" op round supervise uWSGI
for op in lock get update; do
  for r in $(seq 1 "$ROUNDS"); do
    a2=$( { curl -s -w '\n' "http://127.0.0.1:$PA/$op?$N,wall" & curl -s -w '\n' "http://127.0.0.1:$PA/$op?$N,wall"; wait; } | paste -sd/ )
    b2=$( { curl -s -w '\n' "http://127.0.0.1:$PB/$op?$N,wall" & curl -s -w '\n' "http://127.0.0.1:$PB/$op?$N,wall"; wait; } | paste -sd/ )
    printf "%-8s %-7s %16s %16s\n" "$op" "$r" "$a2" "$b2"
  done
done
