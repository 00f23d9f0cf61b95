#!/usr/bin/env bash
# Async apps side by side, in one run (rounds interleaved, medians):
#  1. A FastAPI app (bench/async/fastapi_app.py, GET /items/7) on 2
#     processes over HTTP/1.1:
#       supervise --asgi (uvloop)      supervise --asgi --asgi-loop asyncio
#       uvicorn --workers 2            gunicorn -k uvicorn.workers.UvicornWorker -w 2
#  2. A gevent WSGI app (bench/async/gevent_app.py) on 2 processes with
#     gevent = 100, each behind its own nginx (uwsgi_pass to a unix socket):
#     supervise --gevent vs uWSGI --plugins python3,gevent_python3 (Debian's
#     uwsgi-plugin-gevent-python3; its http11-socket stalls under wrk with
#     gevent, its http-socket closes every connection, so nginx it is).
#     CPU per request is the app server's (nginx's is the same for both).
#  3. WS_CONNS idle WebSockets held through supervise's front end (http =,
#     http-processes = WS_FRONT) to the FastAPI app: the front ends' and the
#     workers' memory per connection (RSS growth / connections).
# Besides req/s and p99 each server's CPU time per request (its process
# tree, from /proc) is reported: the machine's other load disturbs it less.
#   bench/async.sh     # ROUNDS=3 WRK_SECONDS=10 WRK_CONNS=64 WS_CONNS=10000 WS_FRONT=2
#   SECTIONS="gevent ws" bench/async.sh   # some of: fastapi gevent ws
source "$(dirname "$0")/lib.sh"
need wrk uwsgi nginx
ROUNDS=${ROUNDS:-3}
WRK_CONNS=${WRK_CONNS:-64}; export WRK_CONNS
WS_CONNS=${WS_CONNS:-10000}
# Each idle WebSocket costs the front end two descriptors (client and
# upstream) and the client one. WS_FRONT (default 2) front-end processes
# (http-processes) share them: 10,000 need 2 x 10,000 / WS_FRONT in each,
# and 10,000 in the client. Raise the hard limit if short (root may;
# otherwise say so and hold what fits). Go raises its soft limit to the
# hard one at start; the Python workers and the client inherit the soft one.
WS_FRONT=${WS_FRONT:-2}
NOFILE=$(( 2 * WS_CONNS / WS_FRONT + 1000 )); [ "$NOFILE" -lt $(( WS_CONNS + 1000 )) ] && NOFILE=$(( WS_CONNS + 1000 ))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$NOFILE" ]; then
  if ! ulimit -Hn "$NOFILE" 2>/dev/null; then # needs CAP_SYS_RESOURCE (containers often drop it)
    fit=$(( ($(ulimit -Hn) - 200) * WS_FRONT / 2 )); [ "$fit" -gt $(( $(ulimit -Hn) - 1000 )) ] && fit=$(( $(ulimit -Hn) - 1000 ))
    echo "bench: hard limit of $(ulimit -Hn) descriptors cannot be raised; $WS_CONNS WebSockets over $WS_FRONT front-end processes need $NOFILE: holding $fit" >&2
    WS_CONNS=$fit
  fi
fi
ulimit -Sn "$(ulimit -Hn)"
PY=/usr/bin/python3
$PY -c 'import fastapi, uvicorn, gevent' || { echo "bench: install python3-fastapi python3-uvicorn python3-gevent" >&2; exit 2; }
SUPERVISE=$(build_supervise)
APPS=$(cd "$(dirname "$0")/async" && pwd)
D="$BENCH_DIR/apps"; mkdir -p "$D"; cp "$APPS"/*.py "$D/"
HZ=$(getconf CLK_TCK)
tree_pids() { local p; echo "$1"; for p in $(pgrep -P "$1" || true); do tree_pids "$p"; done; }
cpu_ticks() { local t=0 p; for p in $(tree_pids "$1"); do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
rss_kb() { local t=0 p; for p in $(tree_pids "$1"); do t=$((t + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo $t; }
# round URL PID: "req/s p99 errors cpu_us_per_request"
round() {
  local c0 c1 a b e; c0=$(cpu_ticks "$2")
  read -r a b e < <(run_wrk "$1")
  c1=$(cpu_ticks "$2")
  echo "$a $b $e $(awk -v t=$((c1 - c0)) -v hz="$HZ" -v rps="$a" -v s="${WRK_SECONDS:-10}" 'BEGIN { printf "%.0f", t / hz * 1e6 / (rps * s) }')"
}
start() { # start NAME PORT CMD...: runs CMD in $D, waits for PORT; sets PID_<NAME>
  local name=$1 port=$2; shift 2
  (cd "$D" && exec "$@") >"$BENCH_DIR/$name.log" 2>&1 & PIDS+=($!)
  printf -v "PID_$name" %s $!
  if [[ "$port" == /* ]]; then wait_for "$port"; else wait_for "127.0.0.1:$port"; fi || { cat "$BENCH_DIR/$name.log" >&2; return 1; }
  # supervise binds before its workers are up: wait for all of them
  if [ "$1" = "$SUPERVISE" ]; then
    for _ in $(seq 1 600); do grep -q "all workers ready" "$BENCH_DIR/$name.log" && break; sleep 0.1; done
  fi
}
compare() { # compare TITLE URL_PATH NAME:PORT...
  local title=$1 path=$2; shift 2
  local -A rps p99 cpu fail
  local spec name port pid a b e c
  for spec in "$@"; do name=${spec%%:*}; port=${spec##*:}
    for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port$path" >/dev/null 2>&1 && break; sleep 0.1; done
    WRK_SECONDS=2 run_wrk "http://127.0.0.1:$port$path" >/dev/null # warm-up: every worker up and serving
  done
  for r in $(seq 1 "$ROUNDS"); do
    local line="round $r:"
    for spec in "$@"; do name=${spec%%:*}; port=${spec##*:}; pid=PID_$name
      read -r a b e c < <(round "http://127.0.0.1:$port$path" "${!pid}")
      rps[$name]+="$a "; p99[$name]+="$b "; cpu[$name]+="$c "; fail[$name]=$(( ${fail[$name]:-0} + e ))
      line+=" $name $a req/s p99 $b ms $c us/req |"
    done
    echo "$line" >&2
  done
  local base_name=${1%%:*}
  local base; base=$(echo "${rps[$base_name]}" | median)
  printf '\n%-34s %10s %9s %12s %8s %9s\n' "$title (median of $ROUNDS)" "req/s" "p99 ms" "CPU us/req" "errors" "vs first"
  for spec in "$@"; do name=${spec%%:*}
    local m; m=$(echo "${rps[$name]}" | median)
    printf '%-34s %10s %9s %12s %8s %9s\n' "$name" "$m" "$(echo "${p99[$name]}" | median)" "$(echo "${cpu[$name]}" | median)" "${fail[$name]}" "$(ratio "$m" "$base")"
  done
}

SECTIONS=" ${SECTIONS:-fastapi gevent ws} "
if [[ "$SECTIONS" == *" fastapi "* ]]; then
# 1. FastAPI
P1=$(free_port); P2=$(free_port); P3=$(free_port); P4=$(free_port)
start sv_uvloop "$P1" "$SUPERVISE" --http-socket "127.0.0.1:$P1" --asgi fastapi_app:app --processes 2 --disable-logging --python-bin $PY --listen 1024
start sv_asyncio "$P2" "$SUPERVISE" --http-socket "127.0.0.1:$P2" --asgi fastapi_app:app --asgi-loop asyncio --processes 2 --disable-logging --python-bin $PY --listen 1024
start uvicorn "$P3" $PY -m uvicorn fastapi_app:app --host 127.0.0.1 --port "$P3" --workers 2 --no-access-log --log-level warning
runs=(sv_uvloop:$P1 sv_asyncio:$P2 uvicorn:$P3)
if start gunicorn_uvicorn "$P4" $PY -m gunicorn -k uvicorn.workers.UvicornWorker -w 2 -b "127.0.0.1:$P4" fastapi_app:app; then
  runs+=(gunicorn_uvicorn:$P4)
fi
compare "FastAPI GET /items/7, 2 processes" /items/7 "${runs[@]}"
for n in sv_uvloop sv_asyncio uvicorn gunicorn_uvicorn; do pid=PID_$n; [ -n "${!pid:-}" ] && { kill -INT "${!pid}" 2>/dev/null || true; }; done
sleep 1
fi

if [[ "$SECTIONS" == *" gevent "* ]]; then
# 2. gevent, each behind its own nginx (uwsgi_pass, one worker)
# (sockets in a subdirectory: a master deletes a TMPDIR/supervise-* directory whose
# top-level sockets all refuse, as the bench directory's own would after this section)
G1=$D/sv-gevent.sock; G2=$D/uw-gevent.sock; GS1=$(free_port); GS2=$(free_port)
start sv_gevent "$G1" "$SUPERVISE" --socket "$G1" --module gevent_app --gevent 100 --processes 2 --disable-logging --python-bin $PY --listen 1024 --stats "127.0.0.1:$GS1"
start uwsgi_gevent "$G2" uwsgi --plugins python3,gevent_python3 --master --socket "$G2" --module gevent_app --gevent 100 --processes 2 --disable-logging --listen 1024 --stats "127.0.0.1:$GS2"
nginx_front gsv "server unix:$G1;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;"; N1=$NGINX_PORT
nginx_front guw "server unix:$G2;" "uwsgi_pass app; include /etc/nginx/uwsgi_params;"; N2=$NGINX_PORT
compare "gevent WSGI app via nginx, 2 x 100" / sv_gevent:$N1 uwsgi_gevent:$N2
# How the two workers shared the requests (all rounds and the warm-up),
# from each server's stats: a worker left idle while the other has a
# queue is throughput lost.
worker_requests() { $PY -c 'import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); b = b""
while True:
    d = s.recv(65536)
    if not d: break
    b += d
r = [w["requests"] for w in json.loads(b)["workers"]]
print(" / ".join("%d (%.0f%%)" % (n, 100.0 * n / max(sum(r), 1)) for n in r))' "$1"; }
printf '%-34s %s\n' "requests per worker: sv_gevent" "$(worker_requests "$GS1")" "requests per worker: uwsgi_gevent" "$(worker_requests "$GS2")"
kill -INT "$PID_sv_gevent" "$PID_uwsgi_gevent" 2>/dev/null || true
sleep 1
fi

if [[ "$SECTIONS" == *" ws "* ]]; then
# 3. idle WebSockets through the front end
S=$D/ws.sock; F=$(free_port)
ASYNC=$(( WS_CONNS / 2 + 500 ))
start sv_front "$F" "$SUPERVISE" --http "127.0.0.1:$F" --http-processes "$WS_FRONT" --socket "$S" --asgi fastapi_app:app --processes 2 --async "$ASYNC" --disable-logging --python-bin $PY --listen 1024
curl -fsS "http://127.0.0.1:$F/items/1" >/dev/null
FRONT_PIDS=$(pgrep -f "supervise-bin http" -P "$PID_sv_front" | tr '\n' ' ')
WORKER_PIDS=$(tree_pids "$PID_sv_front" | grep -vxF -e "$PID_sv_front" $(printf -- '-e %s ' $FRONT_PIDS) | tr '\n' ' ')
sum_rss() { local t=0 p; for p in "$@"; do t=$((t + $(rss_kb "$p"))); done; echo $t; }
fds() { local out="" p; for p in "$@"; do out+="$p:$(ls "/proc/$p/fd" | wc -l) "; done; echo "$out"; }
front0=$(sum_rss $FRONT_PIDS); all0=$(rss_kb "$PID_sv_front")
coproc WS { $PY "$D/ws_idle.py" 127.0.0.1 "$F" "$WS_CONNS"; }
read -r line <&"${WS[0]}"; echo "websocket client: $line" >&2
opened=$(awk '{print $2}' <<<"$line")
sleep 2
front1=$(sum_rss $FRONT_PIDS); all1=$(rss_kb "$PID_sv_front")
echo "descriptors held, front ends: $(fds $FRONT_PIDS)| workers: $(fds $WORKER_PIDS)| client: $(fds $(tree_pids "$WS_PID" | tail -n +2))| load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo >&"${WS[1]}"; wait "$WS_PID" 2>/dev/null || true
printf '\n%-44s %s\n' "idle WebSockets through the front end" "$opened open ($WS_FRONT front-end processes)"
printf '%-44s %s\n' "front ends' RSS growth per connection" "$(awk -v a="$front0" -v b="$front1" -v n="$opened" 'BEGIN { printf "%.0f bytes", (b - a) * 1024 / n }')"
printf '%-44s %s\n' "master+front ends+workers growth per connection" "$(awk -v a="$all0" -v b="$all1" -v n="$opened" 'BEGIN { printf "%.0f bytes", (b - a) * 1024 / n }')"
fi
