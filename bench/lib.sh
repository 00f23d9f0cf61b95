# Shared helpers for the bench scripts: build supervise, run a private
# nginx, run wrk and read its numbers. Sourced, not run.
set -euo pipefail

BENCH_DIR=$(mktemp -d /tmp/supervise-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do # up to 5 s for everyone to stop, then kill what is left
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do pkill -KILL -P "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$BENCH_DIR"
}
trap cleanup EXIT

need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is missing; install it: apt-get install -y wrk nginx uwsgi-core uwsgi-plugin-python3 python3-flask gunicorn" >&2; exit 2; }
  done
}

build_supervise() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/.." && go build -o "$BENCH_DIR/supervise-bin" ./cmd/supervise)
  echo "$BENCH_DIR/supervise-bin"
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for PATH_OR_HOSTPORT: until a unix socket exists or a port accepts.
wait_for() {
  for _ in $(seq 1 300); do
    if [[ "$1" == /* ]]; then [ -S "$1" ] && return 0
    else (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null && return 0; fi
    sleep 0.05
  done
  echo "bench: $1 never came up" >&2; return 1
}

# nginx_front NAME UPSTREAM_SERVER LOCATION_BODY: a private nginx whose /
# location runs LOCATION_BODY against upstream "app"; sets NGINX_PORT.
nginx_front() {
  local name=$1 directive=$2 port; port=$(free_port)
  local d="$BENCH_DIR/nginx-$name"; mkdir -p "$d"
  cat > "$d/nginx.conf" <<CONF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $d/body; proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
  upstream app { $directive }
  server {
    listen 127.0.0.1:$port;
    location / { $3 }
  }
}
CONF
  nginx -p "$d" -c "$d/nginx.conf" >/dev/null 2>&1 & PIDS+=($!)
  wait_for "127.0.0.1:$port"
  NGINX_PORT=$port
}

# run_wrk URL: prints "req_per_s p99_ms non2xx_plus_errors"
run_wrk() {
  local out; out=$(wrk -t"${WRK_THREADS:-2}" -c"${WRK_CONNS:-32}" -d"${WRK_SECONDS:-10}s" --latency "$1")
  local rps p99 errs non2xx
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; print v}' <<<"$out")
  errs=$(awk '/Socket errors/ {gsub(",",""); print $4+$6+$8+$10}' <<<"$out"); errs=${errs:-0}
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
  echo "$rps $p99 $((errs + non2xx))"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# tree_ticks PID: CPU time (clock ticks, user + system) that PID and all
# its descendants have used so far, reaped children included: a server's
# whole process tree (master, workers, their threads).
tree_ticks() {
  local t=0 p kids=("$1")
  while [ ${#kids[@]} -gt 0 ]; do
    p=${kids[0]}; kids=("${kids[@]:1}")
    t=$((t + $(awk '{print $14+$15+$16+$17}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    kids+=($(pgrep -P "$p" || true))
  done
  echo "$t"
}

# wrk_cpu URL PID: run_wrk's "req_per_s p99_ms failures" plus the CPU time
# PID's process tree spent per request (us) during the run.
wrk_cpu() {
  local c0 c1 a b e n; c0=$(tree_ticks "$2")
  read -r a b e < <(run_wrk "$1")
  c1=$(tree_ticks "$2")
  n=$(awk -v r="$a" -v s="${WRK_SECONDS:-10}" 'BEGIN {printf "%d", r * s}')
  echo "$a $b $e $(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN {if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print 0}')"
}
