#!/usr/bin/env bash
# What the scoreboard and harakiri cost per request, counted rather than
# timed: one worker (processes 1, threads 1) runs under valgrind's
# callgrind, bench/uwsgiget sends it requests over a unix socket (CONNS
# in flight, so its listen queue never empties and every request takes
# the same accept-serve-accept path), and callgrind_control dumps the
# instruction count after a batch of N1 and after a batch of N2 requests.
# (I(N2) - I(N1)) / (N2 - N1) is the worker's user-space instructions per
# request, with everything that happens once per batch cancelled out. The
# counts repeat to about 0.3% (Python) and 1% (Go: GC and scheduler
# timing), whatever else the machine runs, where req/s on a shared 2-core
# machine moves by 10%. For Go it also sums the counts on the source lines
# of worker/board.go and ipc/scoreboard.go: the scoreboard code's own cost.
#
# Instructions miss the kernel, so each setting is also run natively with
# strace -c attached to the worker: syscalls per request, and any syscall
# one setting makes per request that the other does not.
#
# Harakiri's work is in the master's loop, not on the request path, so the
# master itself also runs under callgrind (with two native workers under
# load): its instructions per second and per request, and those on the
# lines of master/harakiri.go and supervisor/board.go.
#
#   bench/cost.sh                      # REPS=5 N1=200 N2=2200 CONNS=4 (Go: GO_N1=1000 GO_N2=11000)
#   REPS=9 bench/cost.sh               # more repetitions for the medians
#   APPS="minimal go" MASTER=0 bench/cost.sh   # some of it
# Needs: valgrind (callgrind_control), strace, go, /usr/bin/python3 with Flask;
# callgrind_control reaches a worker blocked in a syscall through ptrace
# (root, or kernel.yama.ptrace_scope = 0). About 15 minutes.
source "$(dirname "$0")/lib.sh"
for tool in valgrind callgrind_control strace go; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: cost.sh needs $tool: apt-get install -y valgrind strace (and Go from go.dev)" >&2; exit 2; }
done
/usr/bin/python3 -c 'import flask' 2>/dev/null || { echo "bench: cost.sh needs /usr/bin/python3 with Flask: apt-get install -y python3-flask" >&2; exit 2; }
REPS=${REPS:-5}; CONNS=${CONNS:-4}; N1=${N1:-200}; N2=${N2:-2200}; GO_N1=${GO_N1:-1000}; GO_N2=${GO_N2:-11000}
STRACE_N=${STRACE_N:-2000}; MASTER_N=${MASTER_N:-100000}
APPS=${APPS:-minimal flask go}; MASTER=${MASTER:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Go 1.26's runtime reads the clock with RDTSCP, which valgrind 3.19
# (Debian 12) does not decode (SIGILL in runtime.cputicks): build with
# go.mod's floor unless told otherwise (fetched through the module proxy).
export GOTOOLCHAIN=${GOTOOLCHAIN:-go$(cd "$ROOT" && go list -m -f '{{.GoVersion}}')}
SUPERVISE=$(build_supervise)
(cd "$ROOT" && go build -o "$BENCH_DIR/uwsgiget" ./bench/uwsgiget && go build -o "$BENCH_DIR/hello-go" ./examples/hello-go)
GET=$BENCH_DIR/uwsgiget
cat > "$BENCH_DIR/hello.py" <<'PY'
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]
PY
cp "$ROOT/examples/seed/app.py" "$BENCH_DIR/app.py"

# The worker's program, wrapped so its pid is known and, in callgrind mode,
# it runs under valgrind. Go: asynchronous preemption off (callgrind
# asserts on its signals) and GOMAXPROCS=1 (fewer scheduler interleavings,
# steadier counts); both settings of a pair run the same way.
wrapper() { # DIR KIND(python|go) MODE(callgrind|native)
  local run=""
  [ "$3" = callgrind ] && run="valgrind -q --tool=callgrind --callgrind-out-file=$1/cg.out"
  case $2 in
    python) printf '#!/bin/sh\necho $$ > %s/worker.pid\nexec %s /usr/bin/python3 "$@"\n' "$1" "$run" > "$1/worker" ;;
    go) printf '#!/bin/sh\necho $$ > %s/worker.pid\nGOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 exec %s %s "$@"\n' "$1" "$run" "$BENCH_DIR/hello-go" > "$1/worker" ;;
  esac
  chmod +x "$1/worker"
}

# start NAME APP(minimal|flask|go) MODE SETTING(off|on|harakiri): a
# master with one worker; sets DIR MPID WPID URI once a request succeeded.
start() {
  local app=$2 mode=$3 setting=$4 args=()
  DIR=$BENCH_DIR/$1; mkdir -p "$DIR"
  case $setting in off) args+=(--scoreboard false);; harakiri) args+=(--harakiri 30);; esac
  case $app in
    minimal) wrapper "$DIR" python "$mode"; URI=/; args+=(--module hello --chdir "$BENCH_DIR" --python-bin "$DIR/worker");;
    flask) wrapper "$DIR" python "$mode"; URI=/user/bob; args+=(--module app:app --chdir "$BENCH_DIR" --python-bin "$DIR/worker");;
    go) wrapper "$DIR" go "$mode"; URI=/user/bob; args+=(-- "$DIR/worker");;
  esac
  "$SUPERVISE" --socket "$DIR/app.sock" --processes 1 --threads 1 --disable-logging "${args[@]}" >"$DIR/log" 2>&1 & PIDS+=($!); MPID=$!
  ready "$DIR/app.sock"
  WPID=$(cat "$DIR/worker.pid")
}

# ready SOCK: until one request is answered (the master binds before the
# worker runs; the first request waits in the backlog for it).
ready() {
  for _ in $(seq 1 600); do
    "$GET" -n 1 "unix:$1" "$URI" 2>/dev/null && return 0
    kill -0 "$MPID" 2>/dev/null || break
    sleep 0.5
  done
  echo "bench: no answer on $1; the master's log:" >&2; tail -20 "$DIR/log" >&2; exit 1
}

stop() { kill -INT "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null || true; }

# self FILE_REGEX CALLGRIND_FILE: the instructions executed on source lines
# of the matching files (inlined code counts where its source is; callees
# do not). Go's own scoreboard code has a count of its own this way.
self() {
  awk -v re="$1" '
    function name(s) {
      if (match(s, /^\([0-9]+\)/)) {
        id = substr(s, 2, RLENGTH - 2); rest = substr(s, RLENGTH + 2)
        if (rest != "") files[id] = rest
        return files[id]
      }
      return s
    }
    /^fl=/ { fl = name(substr($0, 4)); cur = fl; next }
    /^(fi|fe)=/ { cur = name(substr($0, 4)); next }
    /^fn=/ { cur = fl; next }
    /^cf[il]=/ { name(substr($0, 5)); next }
    /^calls=/ { skip = 1; next }
    /^[0-9+*-]/ { if (skip) { skip = 0; next } if (cur ~ re) sum += $2; next }
    END { printf "%d\n", sum }' "$2"
}

# dump PID: COUNT = callgrind's instruction count since the previous dump,
# in the file DUMPED.
DUMPS=0
dump() {
  DUMPS=$((DUMPS + 1))
  callgrind_control -d "$1" >/dev/null 2>"$DIR/vgdb.err" || {
    echo "bench: callgrind_control could not reach pid $1 (it needs ptrace: run as root or set kernel.yama.ptrace_scope=0):" >&2
    cat "$DIR/vgdb.err" >&2; exit 1; }
  local f=$DIR/cg.out.$DUMPS; DUMPED=$f
  for _ in $(seq 1 200); do grep -q '^totals:' "$f" 2>/dev/null && break; sleep 0.05; done
  COUNT=$(awk '/^totals:/ {print $2}' "$f")
  [ -n "$COUNT" ] || { echo "bench: no callgrind dump in $f" >&2; exit 1; }
}

declare -A I S B
# Results go into globals, not through $(...), so every process started
# lands in PIDS of this shell and is cleaned up on any exit.
# instr APP SETTING: I[APP,SETTING] = the median over REPS of the worker's
# instructions per request; for Go, B[go,SETTING] = those on the lines of
# worker/board.go and ipc/scoreboard.go.
BOARD_GO='/(worker/board|ipc/scoreboard)[.]go$'
instr() {
  local n1=$N1 n2=$N2 r a b ba bb per="" bper=""
  [ "$1" = go ] && n1=$GO_N1 n2=$GO_N2
  start "cg-$1-$2" "$1" callgrind "$2"
  "$GET" -c "$CONNS" -n "$n1" "unix:$DIR/app.sock" "$URI"
  DUMPS=0; dump "$WPID"
  for r in $(seq 1 "$REPS"); do
    "$GET" -c "$CONNS" -n "$n1" "unix:$DIR/app.sock" "$URI"; dump "$WPID"; a=$COUNT
    [ "$1" = go ] && ba=$(self "$BOARD_GO" "$DUMPED")
    "$GET" -c "$CONNS" -n "$n2" "unix:$DIR/app.sock" "$URI"; dump "$WPID"; b=$COUNT
    [ "$1" = go ] && bb=$(self "$BOARD_GO" "$DUMPED") && bper+="$(( (bb - ba) / (n2 - n1) )) "
    per+="$(( (b - a) / (n2 - n1) )) "
  done
  stop
  echo "  $1 $2: instructions/request per repetition: $per${bper:+ (in board.go + scoreboard.go: $bper)}" >&2
  I[$1,$2]=$(echo "$per" | median)
  [ "$1" = go ] && B[$1,$2]=$(echo "$bper" | median)
  return 0
}

# syscalls APP SETTING: writes strace -c's table for STRACE_N requests to
# $BENCH_DIR/st-APP-SETTING/strace.out; S[APP,SETTING] = syscalls per request.
syscalls() {
  start "st-$1-$2" "$1" native "$2"
  "$GET" -c "$CONNS" -n 200 "unix:$DIR/app.sock" "$URI"
  local out=$DIR/strace.out
  strace -f -c -o "$out" -p "$WPID" 2>"$DIR/strace.err" & local spid=$!
  for _ in $(seq 1 200); do grep -q attached "$DIR/strace.err" && break; sleep 0.05; done
  "$GET" -c "$CONNS" -n "$STRACE_N" "unix:$DIR/app.sock" "$URI"
  kill -INT "$spid" || { echo "bench: strace -p $WPID ended early:" >&2; cat "$DIR/strace.err" >&2; exit 1; }
  wait "$spid" || true
  stop
  S[$1,$2]=$(awk -v n="$STRACE_N" '$NF == "total" {printf "%.2f", $4 / n}' "$out")
}

# extra OFF ON: syscalls ON makes at least 0.5 more (or fewer) times per request.
extra() {
  awk -v n="$STRACE_N" 'FNR == 1 {f++} $1 ~ /^[0-9.]+$/ && $NF != "total" {c[$NF, f] = $4; s[$NF] = 1}
    END {for (k in s) {d = (c[k, 2] - c[k, 1]) / n; if (d >= 0.5 || d <= -0.5) printf "%s%+.2f ", k, d}}' "$1" "$2"
}

echo "counting worker instructions under callgrind (REPS=$REPS)..." >&2
for app in $APPS; do
  for setting in off on harakiri; do
    instr $app $setting
    syscalls $app $setting
  done
done

# The master under callgrind, two native workers under load.
# master_instr SETTING: MS[SETTING] instructions/s, MR[SETTING] per
# request, MH[SETTING] instructions/s on the lines of master/harakiri.go and
# supervisor/board.go (the harakiri check and the scoreboard reads it makes).
MASTER_HARAKIRI='/(master/harakiri|supervisor/board)[.]go$'
master_instr() {
  local args=() r a t0 t1 ps="" pr="" ph=""
  case $1 in off) args+=(--scoreboard false);; harakiri) args+=(--harakiri 30);; esac
  DIR=$BENCH_DIR/master-$1; mkdir -p "$DIR"; URI=/
  GODEBUG=asyncpreemptoff=1 valgrind -q --tool=callgrind --callgrind-out-file="$DIR/cg.out" \
    "$SUPERVISE" --socket "$DIR/app.sock" --processes 2 --threads 2 --disable-logging --module hello \
    --chdir "$BENCH_DIR" --python-bin /usr/bin/python3 "${args[@]}" >"$DIR/log" 2>&1 & PIDS+=($!); MPID=$!
  ready "$DIR/app.sock"
  "$GET" -n 1000 "unix:$DIR/app.sock" /
  DUMPS=0; dump "$MPID"
  for r in $(seq 1 "$REPS"); do
    t0=$(date +%s.%N); "$GET" -c "$CONNS" -n "$MASTER_N" "unix:$DIR/app.sock" /; t1=$(date +%s.%N); dump "$MPID"; a=$COUNT
    ps+="$(awk -v a="$a" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%d", a / (t1 - t0)}') "
    ph+="$(awk -v a="$(self "$MASTER_HARAKIRI" "$DUMPED")" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%d", a / (t1 - t0)}') "
    pr+="$(awk -v a="$a" -v n="$MASTER_N" 'BEGIN {printf "%.2f", a / n}') "
  done
  stop
  echo "  master $1: instructions/s $ps, instructions/request $pr, in harakiri.go + board.go/s $ph" >&2
  MS[$1]=$(echo "$ps" | median); MR[$1]=$(echo "$pr" | median); MH[$1]=$(echo "$ph" | median)
}
declare -A MS MR MH
[ "$MASTER" = 1 ] && for setting in off on harakiri; do master_instr $setting; done

row() { # APP WORKER WHAT OFF_KEY ON_KEY
  local off=${I[$1,$4]} on=${I[$1,$5]}
  printf '%-8s %-7s %-22s %12s %12s %7s %9s %9s %9s  %s\n' "$1" "$2" "$3" "$off" "$on" \
    "$(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.4f", a / b}')" "$(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.4f", b / a}')" \
    "${S[$1,$4]}" "${S[$1,$5]}" "$(extra "$BENCH_DIR/st-$1-$4/strace.out" "$BENCH_DIR/st-$1-$5/strace.out")"
}
printf '\nworker instructions per request, callgrind, 1 process x 1 thread, median of %s\n' "$REPS"
printf '%-8s %-7s %-22s %12s %12s %7s %9s %9s %9s  %s\n' app worker setting "instr off" "instr on" ratio "req/s" "sys off" "sys on" "syscalls/request on-off"
for app in $APPS; do
  case $app in go) w=go;; *) w=python;; esac
  row $app $w "scoreboard off -> on" off on
  row $app $w "harakiri 0 -> 30" on harakiri
done
printf '(ratio: instructions on/off; req/s: the throughput ratio that implies for a CPU-bound worker, off/on;\n sys: syscalls per request, natively under strace -c)\n'
if [[ " $APPS " == *" go "* ]]; then
  printf 'go: instructions per request on the lines of worker/board.go + ipc/scoreboard.go: scoreboard off %s, on %s, harakiri 30 %s\n' \
    "${B[go,off]}" "${B[go,on]}" "${B[go,harakiri]}"
fi
[ "$MASTER" = 1 ] || exit 0
printf '\nmaster under callgrind, 2 native Python workers x 2 threads, %s requests, median of %s\n' "$MASTER_N" "$REPS"
printf '%-28s %14s %14s %26s\n' setting "instr/s" "instr/request" "harakiri.go+board.go/s"
printf '%-28s %14s %14s %26s\n' "scoreboard off" "${MS[off]}" "${MR[off]}" "${MH[off]}" "scoreboard on, harakiri 0" "${MS[on]}" "${MR[on]}" "${MH[on]}" \
  "scoreboard on, harakiri 30" "${MS[harakiri]}" "${MR[harakiri]}" "${MH[harakiri]}"
