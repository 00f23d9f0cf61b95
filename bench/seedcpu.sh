#!/usr/bin/env bash
# Two supervise builds side by side on the seed app (myapp.ini's 4 x 2,
# request logging on to a file), with nothing between the client and the
# workers: bench/uwsgiget sends N requests a round straight to each build's
# unix socket (C connections in flight), rounds interleaved, and the CPU
# time of each build's whole process tree is read from /proc around every
# round. Without wrk and nginx on the same cores, CPU per request moves
# far less with the machine's load than bench/seed.sh's does, so it can
# show a change of a few percent between builds.
#   SUPERVISE_BASE=/path/to/old/supervise bench/seedcpu.sh   # ROUNDS=6 N=6000 C=8
source "$(dirname "$0")/lib.sh"
[ -n "${SUPERVISE_BASE:-}" ] || { echo "bench: set SUPERVISE_BASE to the supervise binary to compare with (go build -o /tmp/old ./cmd/supervise on the old commit)" >&2; exit 2; }
ROUNDS=${ROUNDS:-6}; N=${N:-6000}; C=${C:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUPERVISE=$(build_supervise)
(cd "$ROOT" && go build -o "$BENCH_DIR/uwsgiget" ./bench/uwsgiget)
GET=$BENCH_DIR/uwsgiget
declare -A P BIN=([new]=$SUPERVISE [base]=$SUPERVISE_BASE) CPU
for name in new base; do
  d=$BENCH_DIR/$name; mkdir -p "$d"; cp "$ROOT/examples/seed/app.py" "$d/"
  sed "s#/tmp/uwsgi.sock#$d/app.sock#" "$ROOT/examples/seed/myapp.ini" > "$d/myapp.ini"
  (cd "$d" && exec "${BIN[$name]}" --ini myapp.ini --python-bin /usr/bin/python3 --logto "$d/log") >/dev/null 2>&1 & PIDS+=($!); P[$name]=$!
done
for name in new base; do
  for _ in $(seq 1 200); do "$GET" -n 1 "unix:$BENCH_DIR/$name/app.sock" /user/bob 2>/dev/null && break; sleep 0.3; done
  "$GET" -c "$C" -n 500 "unix:$BENCH_DIR/$name/app.sock" /user/bob
done
hz=$(getconf CLK_TCK)
for r in $(seq 1 "$ROUNDS"); do
  line="round $r:"
  for name in new base; do
    c0=$(tree_ticks "${P[$name]}")
    "$GET" -c "$C" -n "$N" "unix:$BENCH_DIR/$name/app.sock" /user/bob
    c1=$(tree_ticks "${P[$name]}")
    u=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v n="$N" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
    CPU[$name]+="$u "; line+=" $name $u us/req"
  done
  echo "$line"
done
new=$(echo "${CPU[new]}" | median); base=$(echo "${CPU[base]}" | median)
printf '\nseed app 4 x 2, uwsgiget -c %s straight to the socket, CPU per request of the process tree (median of %s)\n' "$C" "$ROUNDS"
printf 'this build %s us, SUPERVISE_BASE %s us, this/base %s\n' "$new" "$base" "$(ratio "$new" "$base")"
