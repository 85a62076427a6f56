#!/usr/bin/env bash
# ciq against BullMQ and Celery on one private loopback Redis, from the project.
#   bash bench/peers.sh regress            # this build alone: tasks/s, Redis CPU µs/task,
#                                          # commands/task, bytes/pending task (history off/on, c32/c1)
#   bash bench/peers.sh slowprof           # Redis time per task split per script (claim.lua,
#                                          # finish.lua) and command, history off/on at c32
#   CIQ_OLD_BIN=/tmp/ciq-main bash bench/peers.sh compare
#                                          # new vs old ciq vs BullMQ vs Celery, alternating per rep
#   bash bench/peers.sh ab new=target/release/ciq:on old=/tmp/ciq-main:on
#                                          # only these c32 drains (history off|on|24B), alternating
# Knobs: CIQ_BIN [target/release/ciq], CIQ_OLD_BIN, CIQ_ALT_BIN (compare: a third build, c32 hist-off and c1), REPS [3], N [20000] (c32 drains),
#   N_C1 [10000], N_CELERY [5000], LAT_COUNT [200] (compare: idle pickup probes; 0 = skip),
#   PEERS_SRC [../shared/bench/peers], PEERS_DIR [a writable copy of it under $TMPDIR].
# Needs redis-server; compare also needs node + npm and python3 (the venv with Celery is made
# from ../shared/bench/requirements.txt the first time). The harness starts its own
# redis-server on the first free port from 6400 and stops it by pid; workers run under
# `timeout` and are stopped by pid. Nothing is killed by name.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=${PEERS_SRC:-$ROOT/../shared/bench/peers}
export PEERS_DIR=${PEERS_DIR:-${TMPDIR:-/tmp}/ciq-peers-bench}
[ -f "$SRC/bench.py" ] || { echo "no peers harness at $SRC" >&2; exit 2; }
mkdir -p "$PEERS_DIR"
# bench.py, node/ and py/ are taken fresh from the shared harness; the venv and node
# modules in the copy are kept between runs.
cp -r "$SRC"/bench.py "$SRC"/node "$SRC"/py "$SRC"/ciq-bench.toml "$SRC"/package*.json "$PEERS_DIR"/
chmod -R u+w "$PEERS_DIR"
cd "$PEERS_DIR"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv && .venv/bin/pip install -q -r "$SRC/../requirements.txt" psutil
fi
if [ "${1:-regress}" = compare ] && [ ! -d node_modules/bullmq ]; then
  npm ci --no-audit --no-fund >/dev/null
fi
[ -e node/node_modules ] || [ -L node/node_modules ] || ln -s ../node_modules node/node_modules
export CIQ_BIN=$(cd "$ROOT" && realpath "${CIQ_BIN:-target/release/ciq}")
[ -z "${CIQ_OLD_BIN:-}" ] || export CIQ_OLD_BIN=$(realpath "$CIQ_OLD_BIN")
# ciq takes tasks only for declared queues: declare the harness's queue beside the built-in ones.
if [ -z "${CIQ_CONFIG:-}" ]; then
  printf '[queues]\nbench_q = 1\ndefault = 1\nmaintenance = 1\ntest_execution = 1\n' > ciq-peers.toml
  export CIQ_CONFIG=$PEERS_DIR/ciq-peers.toml
fi
export OUT=${OUT:-$PEERS_DIR/results/peers-$(date +%Y%m%d-%H%M%S).jsonl}
timeout -k 10 3600 .venv/bin/python "$ROOT/bench/peers.py" "${1:-regress}" "${@:2}"
