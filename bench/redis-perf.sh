#!/usr/bin/env bash
# Where Redis's CPU goes while ciq drains: `perf record -g` of a private redis-server for
# one drain, then the functions by share (children included), Redis CPU per task and
# commandstats.
#   bash bench/redis-perf.sh                 env: CIQ_BIN [target/release/ciq] N [100000]
#                                            C [32] TRACED [1] PORT [6391] REDIS [redis-server]
#                                            OUT [a new temp dir: perf.data, report.txt]
# Debian's redis-server has no symbols for its Lua: for a readable profile build the same
# version from Debian's source with frame pointers and point REDIS at it, e.g.
#   apt-get source --download-only redis   (needs a deb-src line for bookworm)
#   tar xzf redis_7.0.15.orig.tar.gz && make -C redis-7.0.15 -j2 BUILD_TLS=no \
#       OPTIMIZATION="-O2 -fno-omit-frame-pointer" CFLAGS=-fno-omit-frame-pointer
#   REDIS=$PWD/redis-7.0.15/src/redis-server bash bench/redis-perf.sh
# Needs perf (linux-perf). The Redis listens on loopback only and is stopped by its pid.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(realpath "${CIQ_BIN:-$ROOT/target/release/ciq}")
N=${N:-100000} C=${C:-32} TRACED=${TRACED:-1} PORT=${PORT:-6391} REDIS=${REDIS:-redis-server}
OUT=${OUT:-$(mktemp -d)}
DIR=$(mktemp -d)
"$REDIS" --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --dir "$DIR" \
  --daemonize yes --pidfile "$DIR/redis.pid" >/dev/null
pids=()
cleanup() {
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  kill "$(cat "$DIR/redis.pid" 2>/dev/null)" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
URL="redis://127.0.0.1:$PORT/0"
printf '[queues]\nbench = 1\ntest_execution = 1\ndefault = 1\nmaintenance = 1\n' > "$DIR/ciq.toml"
export CIQ_CONFIG="$DIR/ciq.toml"
rc() { redis-cli -p "$PORT" "$@"; }
until rc ping >/dev/null 2>&1; do sleep 0.05; done
# shellcheck source=bench/fill.sh
. "$ROOT/bench/fill.sh"
fill_bench_queue "$BIN" "$URL" "$N" "$TRACED"
rc config resetstat >/dev/null
cpu() { rc info cpu | awk -F: '/used_cpu_(sys|user):/{s+=$2} END{print s}'; }
cpu0=$(cpu)
perf record -g -F 2000 -p "$(cat "$DIR/redis.pid")" -o "$OUT/perf.data" 2>"$OUT/perf.err" &
perf_pid=$!
sleep 0.3
t0=$(date +%s.%N)
for i in 1 2; do
  CIQ_LOG=warn "$BIN" --broker "$URL" work --queues bench --concurrency "$C" --name "p$i" \
    >/dev/null 2>&1 & pids+=($!)
done
while [ "$(rc get ciq:bench:done)" != "$N" ]; do sleep 0.02; done
t1=$(date +%s.%N)
kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
cpu1=$(cpu)
{
  echo "N=$N C=$C TRACED=$TRACED redis=$REDIS"
  echo "tasks/s $(echo "$N / ($t1 - $t0)" | bc -l | cut -d. -f1)  Redis CPU µs/task $(echo "($cpu1 - $cpu0) * 1000000 / $N" | bc -l | cut -c1-6)"
  rc info commandstats | grep '^cmdstat' | sed 's/,rejected.*//'
  perf report -i "$OUT/perf.data" --children --sort symbol -g none --stdio 2>/dev/null \
    | grep '%' | head -70
} | tee "$OUT/report.txt"
echo "profile: $OUT/perf.data (perf report -i $OUT/perf.data)"
