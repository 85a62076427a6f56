#!/usr/bin/env bash
# drain.sh CIQ_BIN [N] [CONCURRENCY]: on a private, throwaway redis-server (free loopback
# port, stopped at exit), enqueue N no-op tasks, report Redis memory per pending task,
# then time 2 worker processes draining them. Prints one line of numbers.
set -euo pipefail
BIN=$(realpath "${1:?usage: drain.sh CIQ_BIN [N] [CONCURRENCY]}")
N=${2:-100000}
C=${3:-32}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DIR=$(mktemp -d)
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --daemonize no --dir "$DIR" >/dev/null &
RPID=$!
W1="" W2=""
trap 'kill $RPID $W1 $W2 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DIR"' EXIT
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done
URL="redis://127.0.0.1:$PORT/0"
cd "$DIR"
mem() { redis-cli -p "$PORT" info memory | awk -F: '/^used_memory:/ {print $2+0}'; }
m0=$(mem)
"$BIN" --broker "$URL" enqueue noop --count "$N" >/dev/null
m1=$(mem)
t0=$(date +%s.%N)
CIQ_LOG=warn "$BIN" --broker "$URL" work --queues default --concurrency "$C" 2>/dev/null & W1=$!
CIQ_LOG=warn "$BIN" --broker "$URL" work --queues default --concurrency "$C" 2>/dev/null & W2=$!
done_count() { v=$(redis-cli -p "$PORT" hget 'ciq:{default}:stats' done); echo "${v:-0}"; }
while [ "$(done_count)" -lt "$N" ]; do sleep 0.02; done
t1=$(date +%s.%N)
python3 -c "n=$N; d=$t1-$t0; print(f'drained {n} in {d:.2f}s = {n/d:,.0f} tasks/s; {($m1-$m0)/n:.0f} bytes per pending task')"
