#!/usr/bin/env bash
# Drain N no-op tasks with W `ciq work` processes on a private Redis; prints tasks/s and
# Redis commands per task (INFO commandstats, which also counts commands run inside
# scripts). Compare two binaries in one session, e.g.:
#   bench/drain_probe.sh /tmp/ciq-old; bench/drain_probe.sh target/release/ciq
# usage: bench/drain_probe.sh BIN [N=100000] [WORKERS=2] [CONCURRENCY=32]
set -euo pipefail
BIN=$(realpath "${1:?usage: drain_probe.sh BIN [N] [WORKERS] [CONCURRENCY]}")
N=${2:-100000}; W=${3:-2}; C=${4:-32}
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
DIR=$(mktemp -d)
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --dir "$DIR" >/dev/null &
PIDS=$!
trap 'kill $PIDS 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done
export CIQ_BROKER="redis://127.0.0.1:$PORT/0"
cd "$DIR"
"$BIN" enqueue noop --count "$N" --arg incr=ciq:bench:done >/dev/null
redis-cli -p "$PORT" config resetstat >/dev/null
start=$(date +%s.%N)
for _ in $(seq "$W"); do
    "$BIN" work --concurrency "$C" 2>/dev/null &
    PIDS="$PIDS $!"
done
until [ "$(redis-cli -p "$PORT" get ciq:bench:done)" = "$N" ]; do sleep 0.01; done
end=$(date +%s.%N)
redis-cli -p "$PORT" info commandstats | tr -d '\r' | awk -F'[:=,]' -v n="$N" -v t="$(echo "$end - $start" | bc)" '
    /^cmdstat_/ { total += $3; if ($1 == "cmdstat_evalsha" || $1 == "cmdstat_eval") { ev += $3; us += $5 } }
    END { printf "%d tasks in %.2f s: %.0f tasks/s; script calls %.4f/task (%.2f us of Redis time/task); all commands (incl. inside scripts) %.2f/task\n",
          n, t, n / t, ev / n, us / n, total / n }'
