#!/usr/bin/env bash
# Quick drain throughput of one or more ciq binaries, same Redis, same method, interleaved:
# N no-op tasks pre-filled, 2 worker processes (`ciq work --concurrency C`), steady-state
# rate between 10% and 90% done. For before/after ratios of a change (e.g. task history).
#   bash bench/drain-quick.sh BIN [BIN...]      env: N [50000] C [32] REPS [3] PORT [6399]
# TRACED=1 records every pre-filled task's history as that build's `ciq enqueue` does;
# TRACED=24B gives each a 24-byte record (issue 20's earlier rounds); see fill.sh.
set -euo pipefail
N=${N:-50000} C=${C:-32} REPS=${REPS:-3} PORT=${PORT:-6399}
DIR=$(mktemp -d)
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --dir "$DIR" \
    --daemonize yes --pidfile "$DIR/redis.pid" >/dev/null
trap 'kill "$(cat "$DIR/redis.pid")" 2>/dev/null; rm -rf "$DIR"' EXIT
URL="redis://127.0.0.1:$PORT/0"
# ciq refuses queue names it was not told about: declare the bench queue (and the
# platform's, where its built-in tasks go).
printf '[queues]\nbench = 1\ntest_execution = 1\ndefault = 1\nmaintenance = 1\n' > "$DIR/ciq.toml"
export CIQ_CONFIG="$DIR/ciq.toml"
rc() { redis-cli -p "$PORT" "$@"; }
until rc ping >/dev/null 2>&1; do sleep 0.05; done
now() { date +%s.%N; }
# shellcheck source=bench/fill.sh
. "$(dirname "$0")/fill.sh"
for rep in $(seq "$REPS"); do
  for bin in "$@"; do
    rc flushdb >/dev/null
    fill_bench_queue "$bin" "$URL" "$N" "${TRACED:-0}"
    pids=()
    for i in 1 2; do
      CIQ_LOG=warn "$bin" --broker "$URL" work --queues bench --concurrency "$C" --name "b$i" \
        >/dev/null 2>&1 & pids+=($!)
    done
    t10= t90=
    while :; do
      d=$(rc get ciq:bench:done); d=${d:-0}
      if [ -z "$t10" ] && [ "$d" -ge $((N / 10)) ]; then t10=$(now); fi
      if [ "$d" -ge $((N * 9 / 10)) ]; then t90=$(now); break; fi
      sleep 0.01
    done
    kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
    echo "$bin rep $rep: $(echo "$N * 0.8 / ($t90 - $t10)" | bc -l | cut -d. -f1) tasks/s"
  done
done
