#!/usr/bin/env bash
# The fault soak, long: unique exec tasks on the three queues over four workers while
# partitions, SIGSTOP past the lease, kill -9, Redis restarts (AOF) and a slow worker
# clock hit them. Prints the table docs/guarantees.md quotes.
#   bench/fault-soak.sh                  5 minutes of faults, 3,000 tasks
#   CIQ_SOAK_SECS=1800 CIQ_SOAK_TASKS=20000 bench/fault-soak.sh
#   CIQ_SOAK_SENTINEL=1 bench/fault-soak.sh
#                                        through Sentinel (min_replicas = 1): SENTINEL
#                                        FAILOVER and kill -9 of the master among the faults
set -euo pipefail
cd "$(dirname "$0")/.."
export CIQ_SOAK_SECS=${CIQ_SOAK_SECS:-300} CIQ_SOAK_TASKS=${CIQ_SOAK_TASKS:-3000}
test=at_most_one_run::soak::fault_soak_never_two_runs_at_once_and_nothing_lost
if [ "${CIQ_SOAK_SENTINEL:-0}" = 1 ]; then
    test=at_most_one_run::soak::sentinel::fault_soak_through_sentinel_failovers_never_two_runs_at_once_and_nothing_lost
fi
cargo test --release --locked --test tests -- --exact "$test" --nocapture 2>&1 |
    grep -E '^\||^test |panicked'
