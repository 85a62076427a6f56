# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ciq_global_optspecs
    string join \n config= broker= database= json q/quiet h/help V/version
end

function __fish_ciq_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ciq_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ciq_using_subcommand
    set -l cmd (__fish_ciq_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ciq -n "__fish_ciq_needs_command" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_needs_command" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_needs_command" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_needs_command" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_needs_command" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_needs_command" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_needs_command" -s V -l version -d 'Print version'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "enqueue" -d 'Enqueue a task and print its id'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "work" -d 'Run a worker: claim tasks from the queues, run them, record outcomes'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "beat" -d 'Run the periodic scheduler: enqueue each [schedule.NAME] entry\'s task on time'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "depth" -d 'Per queue: pending, active, scheduled, retry, dead, age of the oldest pending task, paused'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "purge" -d 'Delete pending, scheduled, retrying or dead tasks (never active ones)'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "inspect" -d 'Look at tasks: what runs now, what gave up, what runs later, one task\'s history'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "requeue" -d 'Move dead tasks back to pending as fresh attempts (by id, or all dead of a queue)'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "cancel" -d 'Cancel one pending, scheduled or retrying task (a running one with --terminate)'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "pause" -d 'Stop workers taking tasks from a queue (at once). Enqueue keeps working'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "resume" -d 'Let workers take tasks from a paused queue again'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "status" -d 'One screen: broker, workers, beat leader, queues, dead tasks, problems first'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "top" -d 'Live dashboard: queues (depth, rates, history, oldest, paused), workers and what they run, beat leader and next ticks, recent dead tasks; problems first'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "config" -d 'Show the resolved configuration'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "up" -d 'Run ciq all-in-one: a local redis-server if needed, the platform database, a worker and the beat'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "web" -d 'Serve a dashboard and a JSON API in the browser: queues, tasks with their history, workers, beat, and Prometheus metrics at /metrics. Prints one URL with a login token (`?token=…`); every page and API path needs it (cookie or `Authorization: Bearer`)'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "platform" -d 'The CI platform\'s database: check tables and pending tests'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "cron-guard" -d 'Run the platform\'s cron command under the platform lock, or skip it while the queue is primary and healthy'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "migrate-from-cron" -d 'Migrate the platform from its cron job to the queue, one stage at a time'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "rollback" -d 'Return the platform to stage 0: cron only'
complete -c ciq -n "__fish_ciq_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l arg -d 'A task argument; the value is JSON when it parses as JSON (42, true), else a string' -r
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l args-json -d 'All arguments as one JSON object (merged under --arg)' -r
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l queue -d 'Queue to use instead of the task\'s configured one' -r
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l countdown -d 'Run no sooner than this long from now (e.g. 30s, 5m)' -r
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l eta -d 'Run no sooner than this time (RFC 3339, e.g. 2026-11-28T10:00:00Z)' -r
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l unique -d 'Unique key (overrides the task\'s template); a held key makes this a duplicate' -r
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l timeout -d 'With --wait: give up after this long (exit 5)' -r
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l count -d 'Enqueue this many copies (1 to 1000000; bulk, no unique key). Prints the count. Batches of 1,000 go in whole or not at all: when Redis runs out of memory part-way the ids that went in are printed instead, and the exit code is 7' -r
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l wait -d 'Wait for the task to finish; exit 0 when done, 1 when it failed'
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l history -d 'With --count: record the tasks\' history as a single enqueue does (each record is made at the task\'s first outcome; a pending message carries a 9-byte mark)'
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand enqueue" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ciq -n "__fish_ciq_using_subcommand work" -s Q -l queues -d 'Queues with optional weights, e.g. test_execution:6,default:3 (default: all configured)' -r
complete -c ciq -n "__fish_ciq_using_subcommand work" -s c -l concurrency -d 'Tasks run at once by this worker' -r
complete -c ciq -n "__fish_ciq_using_subcommand work" -l name -d 'A name shown in `inspect active` and `status` (default: host:pid)' -r
complete -c ciq -n "__fish_ciq_using_subcommand work" -l shutdown-timeout -d 'How long running tasks may finish after the first stop signal' -r
complete -c ciq -n "__fish_ciq_using_subcommand work" -l lease -d 'Lease on a claimed task; it is recovered this long after its worker dies' -r
complete -c ciq -n "__fish_ciq_using_subcommand work" -l heartbeat -d 'How often leases are renewed' -r
complete -c ciq -n "__fish_ciq_using_subcommand work" -l sweep -d 'How often expired leases are looked for' -r
complete -c ciq -n "__fish_ciq_using_subcommand work" -l upkeep-lease -d 'How long one worker keeps a queue\'s upkeep (promote + sweep) without renewing; a crashed holder is replaced within about twice this' -r
complete -c ciq -n "__fish_ciq_using_subcommand work" -l metrics-addr -d 'Serve Prometheus metrics on this address, e.g. 127.0.0.1:9187' -r
complete -c ciq -n "__fish_ciq_using_subcommand work" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand work" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand work" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand work" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand work" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand work" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ciq -n "__fish_ciq_using_subcommand beat" -l name -d 'A name shown as the lease holder (default: host:pid)' -r
complete -c ciq -n "__fish_ciq_using_subcommand beat" -l lease -d 'Leader lease; a standby takes over this long after the leader dies' -r
complete -c ciq -n "__fish_ciq_using_subcommand beat" -l tick -d 'How often the lease is renewed and entries are checked (at most half the lease)' -r
complete -c ciq -n "__fish_ciq_using_subcommand beat" -l metrics-addr -d 'Serve Prometheus metrics on this address, e.g. 127.0.0.1:9188 (leader, fires and last/next fire time per entry, and the queue gauges) [config: [beat] metrics_addr]' -r
complete -c ciq -n "__fish_ciq_using_subcommand beat" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand beat" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand beat" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand beat" -l once -d 'Fire whatever is due now (entries that never ran count as due), then exit. For crontab use; never doubles a running beat'
complete -c ciq -n "__fish_ciq_using_subcommand beat" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand beat" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand beat" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ciq -n "__fish_ciq_using_subcommand depth" -l warn -d 'With --check: WARNING when a queue has at least this many pending tasks' -r
complete -c ciq -n "__fish_ciq_using_subcommand depth" -l crit -d 'With --check: CRITICAL when a queue has at least this many pending tasks' -r
complete -c ciq -n "__fish_ciq_using_subcommand depth" -l max-age -d 'With --check: CRITICAL when the oldest pending task is older than this (e.g. 15m)' -r
complete -c ciq -n "__fish_ciq_using_subcommand depth" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand depth" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand depth" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand depth" -l check -d 'Monitoring-plugin mode: compare pending counts (and ages) with thresholds'
complete -c ciq -n "__fish_ciq_using_subcommand depth" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand depth" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand depth" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ciq -n "__fish_ciq_using_subcommand purge" -l state -d 'States to delete (repeatable; default: pending, scheduled, retry and dead)' -r -f -a "pending\t''
scheduled\t''
retry\t''
dead\t''"
complete -c ciq -n "__fish_ciq_using_subcommand purge" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand purge" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand purge" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand purge" -l all -d 'Every known queue'
complete -c ciq -n "__fish_ciq_using_subcommand purge" -l dry-run -d 'Show what would be deleted and stop'
complete -c ciq -n "__fish_ciq_using_subcommand purge" -s y -l yes -d 'Do not ask'
complete -c ciq -n "__fish_ciq_using_subcommand purge" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand purge" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand purge" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and not __fish_seen_subcommand_from active dead scheduled task help" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and not __fish_seen_subcommand_from active dead scheduled task help" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and not __fish_seen_subcommand_from active dead scheduled task help" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and not __fish_seen_subcommand_from active dead scheduled task help" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and not __fish_seen_subcommand_from active dead scheduled task help" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and not __fish_seen_subcommand_from active dead scheduled task help" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and not __fish_seen_subcommand_from active dead scheduled task help" -f -a "active" -d 'Every running task: id, task, queue, args (secrets redacted), worker, started, runtime, attempt, lease expiry'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and not __fish_seen_subcommand_from active dead scheduled task help" -f -a "dead" -d 'Dead tasks with their reason and last error'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and not __fish_seen_subcommand_from active dead scheduled task help" -f -a "scheduled" -d 'Periodic entries (schedule, next/last run, last outcome, lease holder) and delayed or retrying tasks (id, task, queue, due time, attempt)'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and not __fish_seen_subcommand_from active dead scheduled task help" -f -a "task" -d 'One task\'s state and history: enqueued, claimed (worker, attempt), retried (error, next run), done (output tail) or dead (reason), with times; kept for [worker] history_retention after it ends'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and not __fish_seen_subcommand_from active dead scheduled task help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from active" -l queue -d 'Only this queue' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from active" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from active" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from active" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from active" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from active" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from active" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from dead" -l queue -d 'Only this queue' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from dead" -l limit -d 'At most this many per queue (oldest first)' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from dead" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from dead" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from dead" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from dead" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from dead" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from dead" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from scheduled" -l queue -d 'Only delayed/retrying tasks of this queue' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from scheduled" -l limit -d 'At most this many delayed and this many retrying tasks per queue (soonest first)' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from scheduled" -l history -d 'Also list each entry\'s N most recent fires (fire time, task id, holder, late)' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from scheduled" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from scheduled" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from scheduled" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from scheduled" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from scheduled" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from scheduled" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from task" -l unique -d 'The task holding (or that last held) this unique key, e.g. start_test:4211' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from task" -l queue -d 'Only look in this queue' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from task" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from task" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from task" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from task" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from task" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from task" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from help" -f -a "active" -d 'Every running task: id, task, queue, args (secrets redacted), worker, started, runtime, attempt, lease expiry'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from help" -f -a "dead" -d 'Dead tasks with their reason and last error'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from help" -f -a "scheduled" -d 'Periodic entries (schedule, next/last run, last outcome, lease holder) and delayed or retrying tasks (id, task, queue, due time, attempt)'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from help" -f -a "task" -d 'One task\'s state and history: enqueued, claimed (worker, attempt), retried (error, next run), done (output tail) or dead (reason), with times; kept for [worker] history_retention after it ends'
complete -c ciq -n "__fish_ciq_using_subcommand inspect; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ciq -n "__fish_ciq_using_subcommand requeue" -l queue -d 'The queue the tasks are in (default: look in every known queue)' -r
complete -c ciq -n "__fish_ciq_using_subcommand requeue" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand requeue" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand requeue" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand requeue" -l dead -d 'Requeue dead tasks in bulk (needs --all)'
complete -c ciq -n "__fish_ciq_using_subcommand requeue" -l all -d 'With --dead: every dead task (of --queue, or of every queue)'
complete -c ciq -n "__fish_ciq_using_subcommand requeue" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand requeue" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand requeue" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand cancel" -l unique -d 'The task holding (or that last held) this unique key, e.g. start_test:4211' -r
complete -c ciq -n "__fish_ciq_using_subcommand cancel" -l queue -d 'Only look in this queue' -r
complete -c ciq -n "__fish_ciq_using_subcommand cancel" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand cancel" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand cancel" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand cancel" -l terminate -d 'Also cancel a running task: its run loses its lease at once (refused as superseded; its worker stops it) and it is recorded canceled'
complete -c ciq -n "__fish_ciq_using_subcommand cancel" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand cancel" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand cancel" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand pause" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand pause" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand pause" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand pause" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand pause" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand pause" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand resume" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand resume" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand resume" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand resume" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand resume" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand resume" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand status" -l watch -d 'Refresh every DURATION (at least 500ms) in place, e.g. 2s. Needs a terminal, or --count to stop after N screens' -r
complete -c ciq -n "__fish_ciq_using_subcommand status" -l count -d 'With --watch: stop after this many screens (allows --watch without a terminal)' -r
complete -c ciq -n "__fish_ciq_using_subcommand status" -l stuck-after -d 'A pending task older than this is a problem' -r
complete -c ciq -n "__fish_ciq_using_subcommand status" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand status" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand status" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand status" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand status" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ciq -n "__fish_ciq_using_subcommand top" -l interval -d 'Refresh every DURATION' -r
complete -c ciq -n "__fish_ciq_using_subcommand top" -l stuck-after -d 'A pending task older than this is a problem (as in `ciq status`)' -r
complete -c ciq -n "__fish_ciq_using_subcommand top" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand top" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand top" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand top" -l read-only -d 'Show only: the pause, resume and requeue keys are refused (for shared screens)'
complete -c ciq -n "__fish_ciq_using_subcommand top" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand top" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand top" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand config; and not __fish_seen_subcommand_from show help" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand config; and not __fish_seen_subcommand_from show help" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand config; and not __fish_seen_subcommand_from show help" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand config; and not __fish_seen_subcommand_from show help" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand config; and not __fish_seen_subcommand_from show help" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand config; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand config; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Print the resolved config (flags > CIQ_* env > ciq.toml > config.py > defaults) with the source of each value. Table and --json list the same settings'
complete -c ciq -n "__fish_ciq_using_subcommand config; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ciq -n "__fish_ciq_using_subcommand config; and __fish_seen_subcommand_from show" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand config; and __fish_seen_subcommand_from show" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand config; and __fish_seen_subcommand_from show" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand config; and __fish_seen_subcommand_from show" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand config; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand config; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the resolved config (flags > CIQ_* env > ciq.toml > config.py > defaults) with the source of each value. Table and --json list the same settings'
complete -c ciq -n "__fish_ciq_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ciq -n "__fish_ciq_using_subcommand up" -l data-dir -d 'Where ciq keeps its data (redis AOF and log) [default: $XDG_DATA_HOME/ciq or ~/.local/share/ciq]' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand up" -l redis-server -d 'The redis-server program to start' -r
complete -c ciq -n "__fish_ciq_using_subcommand up" -s Q -l queues -d 'Queues with optional weights, e.g. test_execution:6,default:3 (default: all configured)' -r
complete -c ciq -n "__fish_ciq_using_subcommand up" -s c -l concurrency -d 'Tasks run at once by this worker' -r
complete -c ciq -n "__fish_ciq_using_subcommand up" -l name -d 'A name shown in `inspect active` and `status` (default: host:pid)' -r
complete -c ciq -n "__fish_ciq_using_subcommand up" -l shutdown-timeout -d 'How long running tasks may finish after the first stop signal' -r
complete -c ciq -n "__fish_ciq_using_subcommand up" -l lease -d 'Lease on a claimed task; it is recovered this long after its worker dies' -r
complete -c ciq -n "__fish_ciq_using_subcommand up" -l heartbeat -d 'How often leases are renewed' -r
complete -c ciq -n "__fish_ciq_using_subcommand up" -l sweep -d 'How often expired leases are looked for' -r
complete -c ciq -n "__fish_ciq_using_subcommand up" -l upkeep-lease -d 'How long one worker keeps a queue\'s upkeep (promote + sweep) without renewing; a crashed holder is replaced within about twice this' -r
complete -c ciq -n "__fish_ciq_using_subcommand up" -l metrics-addr -d 'Serve Prometheus metrics on this address, e.g. 127.0.0.1:9187' -r
complete -c ciq -n "__fish_ciq_using_subcommand up" -l web -d 'Also serve the web dashboard and JSON API (as `ciq web`, read-only) on ADDR, e.g. 127.0.0.1:8765; the URL with its token is printed at start' -r
complete -c ciq -n "__fish_ciq_using_subcommand up" -l web-token-file -d 'With --web: read the login token from FILE (needed for a non-loopback ADDR)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand up" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand up" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand up" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand up" -l no-redis -d 'Never start a redis-server: use the configured broker (it must be running)'
complete -c ciq -n "__fish_ciq_using_subcommand up" -l use-existing-redis -d 'Use the configured broker (ciq.toml or the default 127.0.0.1:6379) instead of starting a private Redis, even when it runs without AOF (a restart of it then loses every queued task). Without this, `up` refuses a Redis without AOF'
complete -c ciq -n "__fish_ciq_using_subcommand up" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand up" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand up" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ciq -n "__fish_ciq_using_subcommand web" -l listen -d 'Address to listen on (port 0: any free port, printed)' -r
complete -c ciq -n "__fish_ciq_using_subcommand web" -l token-file -d 'Read the login token from FILE (letters, digits, - . _ ~; 16+ characters) instead of making a random one' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand web" -l audit-log -d 'Where actions are recorded, one JSON line each' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand web" -l tls-cert -d 'Serve HTTPS with this PEM certificate chain (needs --tls-key)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand web" -l tls-key -d 'The PEM private key of --tls-cert' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand web" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand web" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand web" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand web" -l allow-actions -d 'Allow requeue, pause/resume, cancel and purge from the pages and the API (each confirmed and audited). Read-only without it'
complete -c ciq -n "__fish_ciq_using_subcommand web" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand web" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand web" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand platform; and not __fish_seen_subcommand_from check help" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand platform; and not __fish_seen_subcommand_from check help" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand platform; and not __fish_seen_subcommand_from check help" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand platform; and not __fish_seen_subcommand_from check help" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand platform; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand platform; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand platform; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Check the platform database (tables, columns) and count pending tests per platform'
complete -c ciq -n "__fish_ciq_using_subcommand platform; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ciq -n "__fish_ciq_using_subcommand platform; and __fish_seen_subcommand_from check" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand platform; and __fish_seen_subcommand_from check" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand platform; and __fish_seen_subcommand_from check" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand platform; and __fish_seen_subcommand_from check" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand platform; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand platform; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ciq -n "__fish_ciq_using_subcommand platform; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check the platform database (tables, columns) and count pending tests per platform'
complete -c ciq -n "__fish_ciq_using_subcommand platform; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ciq -n "__fish_ciq_using_subcommand cron-guard" -l lock-wait -d 'How long to wait for running starts to release the platform lock' -r
complete -c ciq -n "__fish_ciq_using_subcommand cron-guard" -l log -d 'Append each decision here' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand cron-guard" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand cron-guard" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand cron-guard" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand cron-guard" -l always -d 'Run the command whatever the queue\'s state (still under the lock)'
complete -c ciq -n "__fish_ciq_using_subcommand cron-guard" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand cron-guard" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand cron-guard" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and not __fish_seen_subcommand_from status next help" -l to-stage -d 'Go to stage N: the next one (or finish a half-done one), or step back to 1 or 2' -r
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and not __fish_seen_subcommand_from status next help" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and not __fish_seen_subcommand_from status next help" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and not __fish_seen_subcommand_from status next help" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and not __fish_seen_subcommand_from status next help" -l dry-run -d 'Print the plan and the gate checks; change nothing'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and not __fish_seen_subcommand_from status next help" -l force -d 'Go ahead although gate checks fail (recorded in the audit log)'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and not __fish_seen_subcommand_from status next help" -s y -l yes -d 'Do not ask (needed without a terminal)'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and not __fish_seen_subcommand_from status next help" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and not __fish_seen_subcommand_from status next help" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and not __fish_seen_subcommand_from status next help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and not __fish_seen_subcommand_from status next help" -f -a "status" -d 'The current stage, any drift between the files and services, and the gate checks'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and not __fish_seen_subcommand_from status next help" -f -a "next" -d 'Move to the next stage'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and not __fish_seen_subcommand_from status next help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from status" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from status" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from status" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from status" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from next" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from next" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from next" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from next" -l dry-run -d 'Print the plan and the gate checks; change nothing'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from next" -l force -d 'Go ahead although gate checks fail (recorded in the audit log)'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from next" -s y -l yes -d 'Do not ask (needed without a terminal)'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from next" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from next" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from next" -s h -l help -d 'Print help'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from help" -f -a "status" -d 'The current stage, any drift between the files and services, and the gate checks'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from help" -f -a "next" -d 'Move to the next stage'
complete -c ciq -n "__fish_ciq_using_subcommand migrate-from-cron; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ciq -n "__fish_ciq_using_subcommand rollback" -l verify-cron -d 'After the rollback, wait up to this long for the cron log to show a new run' -r
complete -c ciq -n "__fish_ciq_using_subcommand rollback" -l config -d 'Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml)' -r -F
complete -c ciq -n "__fish_ciq_using_subcommand rollback" -l broker -d 'Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)' -r
complete -c ciq -n "__fish_ciq_using_subcommand rollback" -l database -d 'Platform database URL: mysql://, postgres:// or sqlite://' -r
complete -c ciq -n "__fish_ciq_using_subcommand rollback" -s y -l yes -d 'Do not ask; run every step (needed without a terminal)'
complete -c ciq -n "__fish_ciq_using_subcommand rollback" -l dry-run -d 'Print the plan; change nothing'
complete -c ciq -n "__fish_ciq_using_subcommand rollback" -l force -d 'Cut platform starts in flight instead of letting them finish: a second SIGTERM to the stopping worker hands them back to the queue (the platform\'s orphan scan deletes the VM a cut start made). Without it, the stop waits up to 10 minutes for them and says what it waits for; Ctrl-C twice cuts it then'
complete -c ciq -n "__fish_ciq_using_subcommand rollback" -l json -d 'Machine-readable JSON on stdout (read commands)'
complete -c ciq -n "__fish_ciq_using_subcommand rollback" -s q -l quiet -d 'Less on stderr: no progress, no notes'
complete -c ciq -n "__fish_ciq_using_subcommand rollback" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "enqueue" -d 'Enqueue a task and print its id'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "work" -d 'Run a worker: claim tasks from the queues, run them, record outcomes'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "beat" -d 'Run the periodic scheduler: enqueue each [schedule.NAME] entry\'s task on time'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "depth" -d 'Per queue: pending, active, scheduled, retry, dead, age of the oldest pending task, paused'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "purge" -d 'Delete pending, scheduled, retrying or dead tasks (never active ones)'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "inspect" -d 'Look at tasks: what runs now, what gave up, what runs later, one task\'s history'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "requeue" -d 'Move dead tasks back to pending as fresh attempts (by id, or all dead of a queue)'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "cancel" -d 'Cancel one pending, scheduled or retrying task (a running one with --terminate)'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "pause" -d 'Stop workers taking tasks from a queue (at once). Enqueue keeps working'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "resume" -d 'Let workers take tasks from a paused queue again'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "status" -d 'One screen: broker, workers, beat leader, queues, dead tasks, problems first'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "top" -d 'Live dashboard: queues (depth, rates, history, oldest, paused), workers and what they run, beat leader and next ticks, recent dead tasks; problems first'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "config" -d 'Show the resolved configuration'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "up" -d 'Run ciq all-in-one: a local redis-server if needed, the platform database, a worker and the beat'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "web" -d 'Serve a dashboard and a JSON API in the browser: queues, tasks with their history, workers, beat, and Prometheus metrics at /metrics. Prints one URL with a login token (`?token=…`); every page and API path needs it (cookie or `Authorization: Bearer`)'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "platform" -d 'The CI platform\'s database: check tables and pending tests'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "cron-guard" -d 'Run the platform\'s cron command under the platform lock, or skip it while the queue is primary and healthy'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "migrate-from-cron" -d 'Migrate the platform from its cron job to the queue, one stage at a time'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "rollback" -d 'Return the platform to stage 0: cron only'
complete -c ciq -n "__fish_ciq_using_subcommand help; and not __fish_seen_subcommand_from enqueue work beat depth purge inspect requeue cancel pause resume status top config up web platform cron-guard migrate-from-cron rollback help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ciq -n "__fish_ciq_using_subcommand help; and __fish_seen_subcommand_from inspect" -f -a "active" -d 'Every running task: id, task, queue, args (secrets redacted), worker, started, runtime, attempt, lease expiry'
complete -c ciq -n "__fish_ciq_using_subcommand help; and __fish_seen_subcommand_from inspect" -f -a "dead" -d 'Dead tasks with their reason and last error'
complete -c ciq -n "__fish_ciq_using_subcommand help; and __fish_seen_subcommand_from inspect" -f -a "scheduled" -d 'Periodic entries (schedule, next/last run, last outcome, lease holder) and delayed or retrying tasks (id, task, queue, due time, attempt)'
complete -c ciq -n "__fish_ciq_using_subcommand help; and __fish_seen_subcommand_from inspect" -f -a "task" -d 'One task\'s state and history: enqueued, claimed (worker, attempt), retried (error, next run), done (output tail) or dead (reason), with times; kept for [worker] history_retention after it ends'
complete -c ciq -n "__fish_ciq_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "show" -d 'Print the resolved config (flags > CIQ_* env > ciq.toml > config.py > defaults) with the source of each value. Table and --json list the same settings'
complete -c ciq -n "__fish_ciq_using_subcommand help; and __fish_seen_subcommand_from platform" -f -a "check" -d 'Check the platform database (tables, columns) and count pending tests per platform'
complete -c ciq -n "__fish_ciq_using_subcommand help; and __fish_seen_subcommand_from migrate-from-cron" -f -a "status" -d 'The current stage, any drift between the files and services, and the gate checks'
complete -c ciq -n "__fish_ciq_using_subcommand help; and __fish_seen_subcommand_from migrate-from-cron" -f -a "next" -d 'Move to the next stage'
