#!/usr/bin/env bash
# ciq web at scale: fills a private, throwaway Redis with 1,000,000 pending tasks (plus
# 1,000 dead ones), starts `ciq web` on it and times each page and API call (the median
# of RUNS requests, measured by curl, after one warm-up request).
# Usage: bash bench/web-1m-pending.sh [path/to/ciq]   (default: target/release/ciq, else
# target/debug/ciq). Needs redis-server, redis-cli, curl, python3. About a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
CIQ=${1:-$( [ -x target/release/ciq ] && echo target/release/ciq || echo target/debug/ciq )}
N=${N:-1000000}
RUNS=${RUNS:-21}
TMP=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --daemonize yes \
  --pidfile "$TMP/redis.pid" --dir "$TMP" >/dev/null
WEB_PID=
cleanup() {
  [ -n "$WEB_PID" ] && kill "$WEB_PID" 2>/dev/null || true
  [ -f "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
sleep 0.5
export CIQ_BROKER="redis://127.0.0.1:$PORT/0" CIQ_CONFIG="$TMP/ciq.toml"
: > "$TMP/ciq.toml"
echo "filling $N pending tasks into redis://127.0.0.1:$PORT ..."
python3 - "$N" <<'PY' | redis-cli -p "$PORT" --pipe >/dev/null
import sys, json, time
n = int(sys.argv[1]); now = int(time.time() * 1000) - n
def cmd(*a):
    out = [f"*{len(a)}\r\n"]
    for x in a:
        b = x.encode()
        out.append(f"${len(b)}\r\n"); out.append(x); out.append("\r\n")
    return "".join(out)
w = sys.stdout.write
w(cmd("SADD", "ciq:queues", "default"))
batch = []
for i in range(n):
    m = {"v": 1, "id": f"01BENCH{i:019d}", "task": "start_test", "queue": "default",
         "args": {"test_id": i}, "attempt": 1, "max_retries": 3, "enqueued_at": now + i}
    if i == 500000:
        # As `ciq enqueue` leaves a task without a unique key: its message marked for a
        # history record made at its first outcome, no record while it waits.
        m["h"] = True
    else:
        m["unique_key"] = f"start_test:{i}"
    env = json.dumps(m, separators=(",", ":"))
    if i == 4211:  # as `ciq enqueue` leaves a task with a unique key: a record and the held key
        tid = m["id"]
        w(cmd("HSET", "ciq:{default}:history", tid, json.dumps({"at": now + i, "ev": "enqueued", "task": "start_test", "envelope": m}, separators=(",", ":"))))
        w(cmd("SET", f"ciq:{{default}}:unique:start_test:{i}", tid))
    batch.append(env)
    if len(batch) == 1000:
        w(cmd("LPUSH", "ciq:{default}:pending", *batch)); batch = []
if batch: w(cmd("LPUSH", "ciq:{default}:pending", *batch))
for i in range(1000):
    tid = f"01BENCHDEAD{i:015d}"
    env = json.dumps({"v": 1, "id": tid, "task": "noop", "queue": "default", "args": {"n": i},
                      "attempt": 4, "max_retries": 3, "enqueued_at": now, "reason": "retries exhausted",
                      "last_error": "boom"}, separators=(",", ":"))
    w(cmd("HSET", "ciq:{default}:data", tid, env)); w(cmd("ZADD", "ciq:{default}:dead", str(now + i), tid))
PY
echo "pending: $(redis-cli -p "$PORT" LLEN 'ciq:{default}:pending'), memory: $(redis-cli -p "$PORT" INFO memory | grep used_memory_human | tr -d '\r')"
TOKEN=bench-token-0123456789abcdef
echo "$TOKEN" > "$TMP/token"
"$CIQ" web --listen 127.0.0.1:0 --token-file "$TMP/token" > "$TMP/web.out" 2>&1 &
WEB_PID=$!
for _ in $(seq 50); do grep -q http "$TMP/web.out" 2>/dev/null && break; sleep 0.1; done
BASE=$(grep -o 'http://[0-9.:]*' "$TMP/web.out" | head -1)
echo "ciq web ($CIQ) at $BASE"
printf '%-58s %10s %10s\n' "request" "median ms" "max ms"
for path in / "/queues/default" "/queues/default?state=pending&cursor=500000" \
    "/queues/default?state=dead" "/queues/default?q=test_id" "/tasks/01BENCH0000000000000500000?near=500000" "/api/tasks/01BENCH0000000000000500000?near=500000" "/tasks/01BENCH0000000000000004211" \
    "/workers" "/api/queues" "/api/tasks?queue=default&state=pending&cursor=999950" \
    "/api/tasks?q=start_test:4211"; do
  curl -s -o /dev/null -H "Cookie: ciq_token=$TOKEN" "$BASE$path"
  times=$(for _ in $(seq "$RUNS"); do
    curl -s -o /dev/null -w '%{time_total}\n' -H "Cookie: ciq_token=$TOKEN" "$BASE$path"
  done | sort -n)
  med=$(echo "$times" | awk -v n="$RUNS" 'NR==int((n+1)/2){printf "%.1f", $1*1000}')
  max=$(echo "$times" | tail -1 | awk '{printf "%.1f", $1*1000}')
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: ciq_token=$TOKEN" "$BASE$path")
  printf '%-58s %10s %10s  (HTTP %s)\n' "$path" "$med" "$max" "$code"
done
