#!/usr/bin/env bash
# How fast cheaper reacts to a load step, supervise beside uWSGI with the
# same settings: processes=4, cheaper=1, cheaper-overload=1, spare
# algorithm, an app whose requests wait 50 ms (so four workers are needed
# and CPU is not the limit). wrk starts 16 connections at t=0 and stops
# after LOAD_SECONDS; a poller reads each server's stats socket every
# 50 ms. Reported: seconds from the step to the full pool (4 workers not
# cheap), seconds from the end of the load back to 1, failed requests.
#   bench/cheaper.sh                    # ROUNDS=3 LOAD_SECONDS=15 ALGO=spare OVERLOAD=1
#   ALGO=backlog OVERLOAD=2 bench/cheaper.sh
source "$(dirname "$0")/lib.sh"
need wrk uwsgi
ROUNDS=${ROUNDS:-3}; LOAD=${LOAD_SECONDS:-15}
SUPERVISE=$(build_supervise)
cat > "$BENCH_DIR/wait.py" <<'PY'
import time
def application(environ, start_response):
    time.sleep(0.05)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
PY
cat > "$BENCH_DIR/poll.py" <<'PY'
# poll.py HOST:PORT SECONDS: prints "t active" whenever the count changes.
import json, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
end = time.monotonic() + float(sys.argv[2]); start = time.monotonic(); last = None
while time.monotonic() < end:
    try:
        s = socket.create_connection((host, int(port)), timeout=2)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
        s.close()
        ws = json.loads(raw)["workers"]
        active = sum(1 for w in ws if w["pid"] and w["status"] != "cheap")
        if active != last:
            print("%.2f %d" % (time.monotonic() - start, active), flush=True); last = active
    except (OSError, ValueError):
        pass
    time.sleep(0.05)
PY
common_flags=(--processes 4 --cheaper 1 --cheaper-overload "${OVERLOAD:-1}" --cheaper-algo "${ALGO:-spare}" --threads 1 --disable-logging)

start_server() { # NAME PORT STATS
  if [ "$1" = supervise ]; then
    "$SUPERVISE" --http-socket "127.0.0.1:$2" --stats "127.0.0.1:$3" --wsgi-file "$BENCH_DIR/wait.py" \
      --python-bin /usr/bin/python3 "${common_flags[@]}" >"$BENCH_DIR/$1.log" 2>&1 & PIDS+=($!)
  else
    uwsgi --plugins python3 --master --http-socket "127.0.0.1:$2" --stats "127.0.0.1:$3" --wsgi-file "$BENCH_DIR/wait.py" \
      "${common_flags[@]}" >"$BENCH_DIR/$1.log" 2>&1 & PIDS+=($!)
  fi
  echo $!
}

# step NAME: one load step -> "grow_s shrink_s failed"
step() {
  local port stats pid; port=$(free_port); stats=$(free_port)
  pid=$(start_server "$1" "$port" "$stats")
  wait_for "127.0.0.1:$port"; wait_for "127.0.0.1:$stats"
  sleep 3 # let the pool settle at cheaper
  /usr/bin/python3 "$BENCH_DIR/poll.py" "127.0.0.1:$stats" $((LOAD + 25)) > "$BENCH_DIR/poll.$1" &
  local poller=$!
  sleep 0.5
  local out; out=$(wrk -t2 -c16 -d"${LOAD}s" "http://127.0.0.1:$port/"); echo "$out" > "${WRK_LOG:-/dev/null}.$1"
  wait $poller
  kill -INT "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  # wrk counts every connection the server closes after a response as a
  # read error (uWSGI's http-socket always closes; supervise closes when
  # others are queued), so failures are timeouts, connect errors, non-2xx.
  local errs; errs=$(awk '/Non-2xx/ {n+=$NF} /Socket errors/ {gsub(",",""); n+=$4+$10} END {print n+0}' <<<"$out")
  awk -v load="$LOAD" -v errs="$errs" '
    NR==1 {t0=$1}
    $2>=4 && grow=="" {grow=$1-0.5}
    grow!="" && $1>0.5+load && $2==1 && shrink=="" {shrink=$1-0.5-load}
    END {printf "%s %s %s\n", (grow==""?"never":sprintf("%.2f",grow)), (shrink==""?"never":sprintf("%.2f",shrink)), errs}' "$BENCH_DIR/poll.$1"
}

printf "%-6s %-10s %8s %10s %7s\n" round server grow_s shrink_s failed
for r in $(seq 1 "$ROUNDS"); do
  for s in supervise uwsgi; do
    read -r g sh f < <(step "$s")
    printf "%-6s %-10s %8s %10s %7s\n" "$r" "$s" "$g" "$sh" "$f"
  done
done
