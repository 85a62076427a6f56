#!/usr/bin/env bash
# cpu_probe.sh BIN: drain 100k no-ops with 2 workers (--concurrency 32) on a private Redis;
# prints wall tasks/s and the CPU time (user+sys, from /proc) per task of the two workers
# and of redis-server. CPU per task is steadier than wall time on a shared 2-core VM.
# Compare two builds interleaved: for b in old new; do bench/cpu_probe.sh /tmp/ciq-$b; done
set -euo pipefail
BIN=$1; N=100000
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
DIR=$(mktemp -d)
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --dir "$DIR" >/dev/null & R=$!
trap 'kill $R $W1 $W2 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done
U="redis://127.0.0.1:$PORT/0"; cd "$DIR"
"$BIN" --broker "$U" enqueue noop --count $N >/dev/null
t0=$(date +%s.%N)
CIQ_LOG=warn "$BIN" --broker "$U" work --queues default --concurrency 32 2>/dev/null & W1=$!
CIQ_LOG=warn "$BIN" --broker "$U" work --queues default --concurrency 32 2>/dev/null & W2=$!
until [ "$(redis-cli -p $PORT hget 'ciq:{default}:stats' done)" = "$N" ]; do sleep 0.02; done
t1=$(date +%s.%N)
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
c=$(( $(cpu $W1) + $(cpu $W2) )); rc=$(cpu $R)
python3 -c "print(f'{$N/($t1-$t0):8.0f} tasks/s  worker CPU {($c)*1e6/100/$N:.1f} us/task  redis CPU {$rc*1e6/100/$N:.1f} us/task')"
