#!/usr/bin/env bash
# The floor under Redis CPU per task at --concurrency 1: what one request costs Redis when
# every request waits for its reply (no pipelining), as at c1, where a task is two such
# requests (its outcome-and-next-claim script call, and the no-op task's own INCR).
#
#   bash bench/rtt-floor.sh            # N=200000 requests per line, 2 clients
#
# A private redis-server (no persistence) on a free loopback port and a Unix socket;
# redis-benchmark runs each command with 2 clients (the peers benchmark's 2 workers at
# c1), over TCP and over the socket; Redis CPU (used_cpu_sys + used_cpu_user) before and
# after, divided by the requests. The server is stopped by its pid.
set -euo pipefail
N=${N:-200000}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
sock=$dir/redis.sock
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --unixsocket "$sock" \
  --unixsocketperm 700 --daemonize yes --pidfile "$dir/redis.pid" --dir "$dir" >/dev/null
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null; sleep 0.2; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
cpu() { redis-cli -p "$port" info cpu | awk -F: '/used_cpu_(sys|user):/{s+=$2} END{printf "%.6f", s}'; }
sha=$(redis-cli -p "$port" script load "return 1")
echo "Redis CPU per request, 2 clients, one request in flight each ($(redis-server --version | cut -d' ' -f3), $(uptime | sed 's/.*load/load/'))"
printf '| transport | command | µs of Redis CPU per request |\n|---|---|---:|\n'
for mode in tcp unix; do
  for cmd in "PING" "INCR ciq:bench:rtt" "EVALSHA $sha 0"; do
    if [ "$mode" = tcp ]; then target=(-h 127.0.0.1 -p "$port"); else target=(-s "$sock"); fi
    a=$(cpu)
    # shellcheck disable=SC2086
    redis-benchmark "${target[@]}" -c 2 -n "$N" -q $cmd >/dev/null
    b=$(cpu)
    python3 -c "print('| $mode | ${cmd%% *} | %.1f |' % (($b - $a) / $N * 1e6))"
  done
done
