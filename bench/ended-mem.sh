#!/usr/bin/env bash
# Redis memory per ended task with its history kept: N traced no-op tasks (recorded as each
# build's `ciq enqueue` records a task, or TRACED=24B: the 24-byte record of issue 20's
# earlier rounds; see fill.sh) drained by 2 workers at c32, then used_memory after ÷ N,
# and the size of the history trim index.
#   bash bench/ended-mem.sh BIN [BIN...]     env: N [50000] PORT [6460] TRACED [1]
# Starts its own redis-server on loopback (stopped by pid), one per binary.
set -euo pipefail
N=${N:-50000} PORT=${PORT:-6460}
pids=() DIR=
cleanup() {
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  [ -z "$DIR" ] || { kill "$(cat "$DIR/redis.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$DIR"; }
}
trap cleanup EXIT
for bin in "$@"; do
  DIR=$(mktemp -d)
  redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --dir "$DIR" \
    --daemonize yes --pidfile "$DIR/redis.pid" >/dev/null
  URL="redis://127.0.0.1:$PORT/0"
  printf '[queues]\nbench = 1\ntest_execution = 1\ndefault = 1\nmaintenance = 1\n' > "$DIR/ciq.toml"
  export CIQ_CONFIG="$DIR/ciq.toml"
  rc() { redis-cli -p "$PORT" "$@"; }
  until rc ping >/dev/null 2>&1; do sleep 0.05; done
  m0=$(rc info memory | awk -F: '/^used_memory:/{print $2+0}')
  # shellcheck source=bench/fill.sh
  . "$(dirname "$0")/fill.sh"
  fill_bench_queue "$bin" "$URL" "$N" "${TRACED:-1}"
  pids=()
  for i in 1 2; do
    CIQ_LOG=warn "$bin" --broker "$URL" work --queues bench --concurrency 32 --name "m$i" \
      >/dev/null 2>&1 & pids+=($!)
  done
  while [ "$(rc get ciq:bench:done)" != "$N" ]; do sleep 0.02; done
  kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null || true
  pids=()
  m1=$(rc info memory | awk -F: '/^used_memory:/{print $2+0}')
  idx=0
  for k in 'ciq:{bench}:history:ends' 'ciq:{bench}:history:ended'; do
    v=$(rc memory usage "$k" 2>/dev/null || true)
    idx=$((idx + ${v:-0}))
  done
  echo "$bin: $(( (m1 - m0) / N )) bytes per ended task; trim index $(( idx / N )) bytes per task"
  cleanup
  DIR=
  PORT=$((PORT + 1))
done
