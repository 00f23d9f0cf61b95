#!/usr/bin/env bash
# Memory and respawn time, side by side: supervise (preloading from a
# zygote, the default; and lazy-apps), uWSGI non-lazy (`--plugins
# python3`, its default) and `gunicorn --preload`, on http-socket with
# the same worker count and one thread each.
#
# PSS: the seed Flask app (examples/seed) and a fresh Django project
# (`django-admin startproject`, DEBUG off, /admin/login/ renders
# templates) at 4 and 16 workers. After the same warm-up load on every
# server, WARM_REQUESTS requests per worker of wrk on the app's page (the
# same request count, not the same seconds: on http-socket the servers'
# throughputs differ up to 2x), tree PSS = the sum of Pss in
# /proc/PID/smaps_rollup over the server's process and every process
# below it (the zygote included). WARM_SECONDS=S warms for S seconds
# instead, as before session 10.
#
# Respawn: one worker, SIGKILLed; the time from the kill to the first 200
# answered by its replacement (a client polls every millisecond).
#
#   bench/memory.sh                     # WARM_REQUESTS=8000 RESPAWNS=5
#   WARM_REQUESTS=500 bench/memory.sh   # 500 requests per worker
#   WARM_SECONDS=3 bench/memory.sh      # a timed warm-up (session 9's default)
#   FREEZE=0 bench/memory.sh            # supervise without gc.freeze()
#   SERVERS="supervise uwsgi" APPS=seed SIZES=16 RESPAWNS=0 bench/memory.sh
#   SUPERVISE_BIN=/tmp/a SERVERS=supervise APPS=seed SIZES=16 RESPAWNS=0 bench/memory.sh
#
# supervise-warmup is supervise with `preload-warmup` = the app's page
# (the zygote GETs it before forking; beyond uWSGI).
source "$(dirname "$0")/lib.sh"
need wrk uwsgi gunicorn
WARM_SECONDS=${WARM_SECONDS:-}
WARM_REQUESTS=${WARM_REQUESTS:-8000}
RESPAWNS=${RESPAWNS:-5}
PY=/usr/bin/python3
SUPERVISE=${SUPERVISE_BIN:-$(build_supervise)}  # SUPERVISE_BIN: a prebuilt binary, for A/B pairs
SEED=$(cd "$(dirname "$0")/../examples/seed" && pwd)

# The apps: DIR, module:callable, the page to load, extra environment.
mkdir -p "$BENCH_DIR/seed"; cp "$SEED/app.py" "$BENCH_DIR/seed/"
DJ="$BENCH_DIR/django"; mkdir -p "$DJ"
$PY -m django startproject mysite "$DJ"
sed -i -e 's/^DEBUG = True/DEBUG = False/' -e "s/^ALLOWED_HOSTS = \[\]/ALLOWED_HOSTS = ['*']/" "$DJ/mysite/settings.py"
app_dir() { case $1 in seed) echo "$BENCH_DIR/seed";; django) echo "$DJ";; esac; }
app_module() { case $1 in seed) echo "app:app";; django) echo "mysite.wsgi:application";; esac; }
app_page() { case $1 in seed) echo "/user/bob";; django) echo "/admin/login/";; esac; }
export DJANGO_SETTINGS_MODULE=mysite.settings

# tree_pids PID: PID and every process below it.
tree_pids() {
  local pid=$1; echo "$pid"
  for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}
# tree_pss PID: MB of PSS over the tree.
tree_pss() {
  local kb=0 p v
  for p in $(tree_pids "$1"); do
    v=$(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)
    kb=$((kb + ${v:-0}))
  done
  awk -v k="$kb" 'BEGIN {printf "%.1f", k / 1024}'
}

# worker_dirty PID: the median Private_Dirty (MB) of the processes below
# PID (the workers; a zygote is one among them): the pages each worker
# wrote since its fork, what every added worker costs.
worker_dirty() {
  local p
  for p in $(tree_pids "$1" | tail -n +2); do
    awk '/^Private_Dirty:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || true  # a middle fork may be gone
  done | sort -n | awk '{v[NR] = $1} END {if (NR) printf "%.2f", v[int((NR + 1) / 2)] / 1024}'
}

# start SERVER APP N PORT LOG: starts it in the background, sets SRV_PID.
start() {
  local server=$1 app=$2 n=$3 port=$4 log=$5 dir mod; dir=$(app_dir "$app"); mod=$(app_module "$app")
  case $server in
    supervise|supervise-lazy|supervise-warmup)
      local lazy=(); [ "$server" = supervise-lazy ] && lazy=(--lazy-apps)
      [ "$server" = supervise-warmup ] && lazy=(--preload-warmup "$(app_page "$app")")
      (cd "$dir" && exec "$SUPERVISE" --http-socket "127.0.0.1:$port" --module "$mod" \
        --processes "$n" --threads 1 --python-bin "$PY" --disable-logging "${lazy[@]}" --env "SUPERVISE_ZYGOTE_GC_FREEZE=${FREEZE:-1}" \
        --logto "$log") >/dev/null 2>&1 & ;;
    uwsgi)
      (cd "$dir" && exec uwsgi --plugins python3 --master --http-socket "127.0.0.1:$port" --module "$mod" \
        --processes "$n" --disable-logging --logto "$log") >/dev/null 2>&1 & ;;
    gunicorn)
      (cd "$dir" && exec gunicorn --preload -w "$n" -b "127.0.0.1:$port" --log-file "$log" "$mod") >/dev/null 2>&1 & ;;
  esac
  SRV_PID=$!; PIDS+=("$SRV_PID")
  wait_for "127.0.0.1:$port"
  # every worker up: the tree holds n workers beyond the master (and zygote)
  for _ in $(seq 1 600); do
    [ "$(tree_pids "$SRV_PID" | wc -l)" -gt "$n" ] && break; sleep 0.05
  done
}

stop() {
  kill -INT "$SRV_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$SRV_PID" 2>/dev/null || true
}

# a worker's pid: the newest child that is not supervise's zygote
a_worker() {
  local server=$1 log=$2
  case $server in
    supervise|supervise-lazy|supervise-warmup) grep -o 'spawned worker: id=[0-9]* pid=[0-9]*' "$log" | tail -1 | sed 's/.*pid=//';;
    *) cat /proc/"$SRV_PID"/task/*/children | tr ' ' '\n' | grep -v '^$' | tail -1;;
  esac
}

# respawn_ms URL PID: kills PID, prints the ms until a 200 from another pid's answer
respawn_ms() {
  $PY - "$1" "$2" <<'EOF'
import http.client, os, signal, sys, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1]); victim = int(sys.argv[2])
t0 = time.monotonic()
os.kill(victim, signal.SIGKILL)
while time.monotonic() - t0 < 30:
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        c.request("GET", u.path); r = c.getresponse(); r.read(); c.close()
        if r.status == 200:
            print("%.1f" % ((time.monotonic() - t0) * 1000)); sys.exit(0)
    except OSError:
        pass
    time.sleep(0.001)
print("never")
EOF
}

# warm URL N: the warm-up load of a server with N workers: wrk in 1 s
# runs until the server has answered N * WARM_REQUESTS requests (the
# last run overshoots by under a second's worth; WARMED says how many),
# or WARM_SECONDS of wrk.
warm() {
  if [ -n "$WARM_SECONDS" ]; then
    WRK_SECONDS=$WARM_SECONDS WRK_CONNS=$(($2 * 2)) run_wrk "$1" >/dev/null
    return
  fi
  local done=0 want=$(($2 * WARM_REQUESTS)) got idle=0
  while [ "$done" -lt "$want" ]; do
    got=$(wrk -t2 -c$(($2 * 2)) -d1s "$1" | awk '/requests in/ {print $1}')
    # 16 workers' first requests can take longer than a second together
    if [ "${got:-0}" -eq 0 ]; then
      idle=$((idle + 1)); [ "$idle" -lt 10 ] || { echo "warm-up: no answers from $1 in 10 s" >&2; return 1; }
    fi
    done=$((done + ${got:-0}))
  done
  WARMED=$done
}

read -r -a SERVERS <<<"${SERVERS:-supervise supervise-lazy uwsgi gunicorn}"
read -r -a APPS <<<"${APPS:-seed django}"
read -r -a SIZES <<<"${SIZES:-4 16}"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); gc.freeze in the zygote: ${FREEZE:-1}; warm-up: $(if [ -n "$WARM_SECONDS" ]; then echo "$WARM_SECONDS s"; else echo "$WARM_REQUESTS requests per worker"; fi)"
printf '\n%-8s %-3s' "app" "n"; for s in "${SERVERS[@]}"; do printf ' %16s' "$s MB"; done
printf ' %14s %14s   %s\n' "sv/uwsgi" "sv/gunicorn" "median worker Private_Dirty MB"
for app in "${APPS[@]}"; do
  for n in "${SIZES[@]}"; do
    declare -A pss=() dirty=() warmed=()
    for s in "${SERVERS[@]}"; do
      port=$(free_port); log="$BENCH_DIR/$s-$app-$n.log"
      start "$s" "$app" "$n" "$port" "$log"
      WARMED=; warm "http://127.0.0.1:$port$(app_page "$app")" "$n"; warmed[$s]=${WARMED:-}
      sleep 1
      pss[$s]=$(tree_pss "$SRV_PID"); dirty[$s]=$(worker_dirty "$SRV_PID")
      stop
    done
    printf '%-8s %-3s' "$app" "$n"; for s in "${SERVERS[@]}"; do printf ' %16s' "${pss[$s]}"; done
    printf ' %14s %14s  ' "$(ratio "${pss[supervise]:-0}" "${pss[uwsgi]:-0}")" "$(ratio "${pss[supervise]:-0}" "${pss[gunicorn]:-0}")"
    for s in "${SERVERS[@]}"; do printf ' %s=%s' "$s" "${dirty[$s]}"; done
    [ -z "$WARM_SECONDS" ] && { printf '   warm-up requests:'; for s in "${SERVERS[@]}"; do printf ' %s=%s' "$s" "${warmed[$s]}"; done; }
    echo
  done
done

[ "$RESPAWNS" = 0 ] && exit 0
printf '\n%-8s' "respawn"; for s in "${SERVERS[@]}"; do printf ' %16s' "$s ms"; done; printf ' %14s\n' "sv/uwsgi"
for app in "${APPS[@]}"; do
  declare -A ms=()
  for s in "${SERVERS[@]}"; do
    port=$(free_port); log="$BENCH_DIR/$s-$app-respawn.log"
    start "$s" "$app" 1 "$port" "$log"
    runs=()
    for _ in $(seq 1 "$RESPAWNS"); do
      curl -s -o /dev/null "http://127.0.0.1:$port$(app_page "$app")"
      runs+=("$(respawn_ms "http://127.0.0.1:$port$(app_page "$app")" "$(a_worker "$s" "$log")")")
      sleep 0.5
    done
    ms[$s]=$(echo "${runs[*]}" | median)
    stop
  done
  printf '%-8s' "$app"; for s in "${SERVERS[@]}"; do printf ' %16s' "${ms[$s]}"; done
  printf ' %14s\n' "$(ratio "${ms[supervise]:-0}" "${ms[uwsgi]:-0}")"
done
