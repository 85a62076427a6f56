#!/usr/bin/env bash
# One command to (re)run the Redis task-queue performance anchors:
#     bash bench/run-anchors.sh          # from the repository root
#     bash run-anchors.sh                # from bench/
# Writes raw/ (JSONL + logs + redis-benchmark output) and anchors-results.md.
#
# Knobs (environment variables, defaults in brackets):
#   N [20000]            tasks per enqueue-throughput run
#   DRAIN_N [8000]       tasks pre-filled for each drain run (celery, rq SimpleWorker)
#   RQ_FORK_N [600]      tasks for the RQ fork-per-job Worker drain (0 = DRAIN_N)
#   CONCURRENCY [2]      celery --concurrency / number of rq worker processes
#   REPS [3]             repetitions of every measurement
#   REPS_ENQUEUE_ALT [1] repetitions of secondary enqueue APIs (celery send_task)
#   LAT_COUNT [200] LAT_GAP_MS [20]   latency probes and the sleep between them
#   SYSTEMS ["celery rq"]  add "ciq" once CiqSystem in anchors.py is implemented
#   REDIS_PORT [6390]    first loopback port tried for the private throwaway Redis
#   REDIS_URL            use an existing Redis instead (it gets FLUSHDB'd, so it must be
#                        a throwaway one; you must also set BENCH_ALLOW_FLUSH=1)
#   HARNESS_TIMEOUT [900] hard limit for the Python harness, seconds
set -euo pipefail
cd "$(dirname "$0")"
BENCH_DIR=$(pwd)

N=${N:-20000}
DRAIN_N=${DRAIN_N:-8000}
RQ_FORK_N=${RQ_FORK_N:-600}
CONCURRENCY=${CONCURRENCY:-2}
REPS=${REPS:-3}
REPS_ENQUEUE_ALT=${REPS_ENQUEUE_ALT:-1}
LAT_COUNT=${LAT_COUNT:-200}
LAT_GAP_MS=${LAT_GAP_MS:-20}
SYSTEMS=${SYSTEMS:-celery rq ciq}
REDIS_PORT=${REDIS_PORT:-6390}
HARNESS_TIMEOUT=${HARNESS_TIMEOUT:-900}
RAW=raw
T_START=$(date +%s)

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- 0. dependencies
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        timeout 300 apt-get update
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y redis-server redis-tools
    else
        echo "redis-server/redis-benchmark missing: apt-get install -y redis-server" >&2
        exit 1
    fi
fi
if [ ! -x .venv/bin/python ]; then
    timeout 120 python3 -m venv .venv
    timeout 600 .venv/bin/pip install -q -r requirements.txt
fi
PY=.venv/bin/python

rm -rf "$RAW"
mkdir -p "$RAW/logs"

# ---------------------------------------------------------------- 1. private Redis
REDIS_PID=""
REDIS_WRAP_PID=""
cleanup() {
    local rc=$?
    if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
        log "stopping redis-server pid $REDIS_PID"
        kill -TERM "$REDIS_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$REDIS_PID" 2>/dev/null && kill -KILL "$REDIS_PID" 2>/dev/null || true
    fi
    if [ -n "$REDIS_WRAP_PID" ]; then wait "$REDIS_WRAP_PID" 2>/dev/null || true; fi
    exit $rc
}
trap cleanup EXIT INT TERM

REDIS_SERVER_CMD=""
if [ -z "${REDIS_URL:-}" ]; then
    PORT=$($PY - "$REDIS_PORT" <<'EOF'
import socket, sys
p = int(sys.argv[1])
for port in range(p, p + 50):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    sys.exit("no free port")
EOF
)
    # Foreground Redis under `timeout` (a safety net if this script is killed hard),
    # loopback only, no persistence. Stopped by pid in cleanup().
    REDIS_SERVER_CMD="timeout -k 5 $((HARNESS_TIMEOUT + 300)) redis-server --bind 127.0.0.1 --port $PORT --save '' --appendonly no --daemonize no --protected-mode yes --pidfile $BENCH_DIR/$RAW/redis-$PORT.pid --logfile $BENCH_DIR/$RAW/logs/redis-$PORT.log"
    timeout -k 5 $((HARNESS_TIMEOUT + 300)) redis-server --bind 127.0.0.1 --port "$PORT" \
        --save '' --appendonly no --daemonize no --protected-mode yes \
        --pidfile "$BENCH_DIR/$RAW/redis-$PORT.pid" \
        --logfile "$BENCH_DIR/$RAW/logs/redis-$PORT.log" &
    REDIS_WRAP_PID=$!
    for _ in $(seq 100); do
        redis-cli -h 127.0.0.1 -p "$PORT" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    REDIS_PID=$(redis-cli -h 127.0.0.1 -p "$PORT" info server | tr -d '\r' | awk -F: '/^process_id:/{print $2}')
    [ -n "$REDIS_PID" ] || { echo "redis did not start" >&2; exit 1; }
    export REDIS_URL="redis://127.0.0.1:$PORT/0"
    export BENCH_ALLOW_FLUSH=1
    log "private redis-server pid $REDIS_PID on $REDIS_URL"
else
    log "using external REDIS_URL=$REDIS_URL (BENCH_ALLOW_FLUSH=${BENCH_ALLOW_FLUSH:-unset})"
fi
read -r RHOST RPORT RDB < <($PY -c "
import os, urllib.parse as u
p = u.urlparse(os.environ['REDIS_URL'])
print(p.hostname or '127.0.0.1', p.port or 6379, (p.path or '/0').strip('/') or 0)")

# ---------------------------------------------------------------- 2. raw Redis list ops
RB_CMDS=()
for rep in $(seq "$REPS"); do
    for mode in plain P16; do
        extra=""; [ "$mode" = P16 ] && extra="-P 16"
        cmd="timeout 120 redis-benchmark -h $RHOST -p $RPORT --dbnum $RDB -q -t lpush,rpop,lpop -n 200000 $extra"
        [ "$rep" = 1 ] && RB_CMDS+=("$cmd")
        log "$cmd"
        # -q prints progress with \r; keep only the final per-test lines
        $cmd 2>&1 | tr '\r' '\n' | grep 'requests per second' > "$RAW/redis-benchmark-$mode-r$rep.txt" || true
        cat "$RAW/redis-benchmark-$mode-r$rep.txt" >&2
    done
done
redis-cli -h "$RHOST" -p "$RPORT" -n "$RDB" del mylist >/dev/null

# ---------------------------------------------------------------- 3. queue systems
HARNESS_CMD="timeout -k 10 $HARNESS_TIMEOUT $PY anchors.py run --systems $(echo "$SYSTEMS" | tr ' ' ',') --n $N --drain-n $DRAIN_N --rq-fork-n $RQ_FORK_N --concurrency $CONCURRENCY --reps $REPS --reps-enqueue-alt $REPS_ENQUEUE_ALT --reps-slow $REPS --lat-count $LAT_COUNT --lat-gap-ms $LAT_GAP_MS --out $RAW/results.jsonl --log-dir $RAW/logs"
log "$HARNESS_CMD"
set +e
$HARNESS_CMD 2> >(tee "$RAW/harness.log" >&2)
HARNESS_RC=$?
set -e
T_END=$(date +%s)

# ---------------------------------------------------------------- 4. metadata + report
export HARNESS_CMD HARNESS_RC REDIS_SERVER_CMD T_START T_END N DRAIN_N RQ_FORK_N CONCURRENCY REPS \
    REPS_ENQUEUE_ALT LAT_COUNT LAT_GAP_MS SYSTEMS
RB_CMDS_JOINED=$(printf '%s\n' "${RB_CMDS[@]}")
export RB_CMDS_JOINED
$PY - <<'EOF' > "$RAW/meta.json"
import json, os, platform, subprocess, sys
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:
        return f"error: {e}"
url = os.environ["REDIS_URL"]
meta = {
    "date_utc": sh("date -u +%Y-%m-%dT%H:%M:%SZ"),
    "host": {"kernel": platform.release(), "debian": sh("cat /etc/debian_version"),
             "cpu_model": sh("awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo"),
             "nproc": os.cpu_count(), "mem_total": sh("awk '/MemTotal/{print $2\" kB\"}' /proc/meminfo")},
    "python": sys.version.split()[0],
    "redis_server": sh("redis-server --version"),
    "redis_benchmark": sh("redis-benchmark --version"),
    "redis_info_version": sh(f"redis-cli -u {url} info server | tr -d '\\r' | grep -E '^(redis_version|process_id|tcp_port|io_threads_active)'"),
    "pip_freeze": sh(f"{sys.executable} -m pip freeze").splitlines(),
    "params": {k: os.environ[k] for k in ["N", "DRAIN_N", "RQ_FORK_N", "CONCURRENCY", "REPS",
                                           "REPS_ENQUEUE_ALT", "LAT_COUNT", "LAT_GAP_MS", "SYSTEMS"]},
    "redis_url": url,
    "commands": {"redis_server": os.environ.get("REDIS_SERVER_CMD") or "(external REDIS_URL)",
                 "redis_benchmark": os.environ["RB_CMDS_JOINED"].splitlines(),
                 "harness": os.environ["HARNESS_CMD"]},
    "harness_rc": int(os.environ["HARNESS_RC"]),
    "total_seconds": int(os.environ["T_END"]) - int(os.environ["T_START"]),
}
json.dump(meta, sys.stdout, indent=1)
EOF
timeout 60 $PY report.py --raw "$RAW" --out anchors-results.md
# keep results free of this checkout's absolute location
sed -i "s#$BENCH_DIR/#bench/#g; s#$BENCH_DIR#bench#g" anchors-results.md "$RAW/meta.json"
log "done in $((T_END - T_START))s (harness rc=$HARNESS_RC); report: $BENCH_DIR/anchors-results.md"
exit "$HARNESS_RC"
