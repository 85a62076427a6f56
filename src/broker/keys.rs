//! Every Redis key name ciq uses is built here and nowhere else.
//!
//! Per-queue keys share the hash tag `{Q}` so each per-queue Lua script touches one
//! cluster slot; beat's keys share `{beat}`. The other global keys (queue and worker
//! registries, platform bookkeeping) are only touched by single-key commands, never by
//! a script or a transaction, so on Redis Cluster they may live on any node.

/// Key prefix; everything ciq writes starts with it.
pub const PREFIX: &str = "ciq";

/// Queue names appear inside `{…}` hash tags and in shell commands, so keep them plain.
pub fn validate_queue_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid queue name {name:?}: use 1-64 letters, digits, '_', '-' or '.'"
        ))
    }
}

/// The keys of one queue.
#[derive(Debug, Clone)]
pub struct QueueKeys {
    pub name: String,
    /// LIST of envelope JSON; LPUSH to enqueue, RPOP to claim (FIFO).
    pub pending: String,
    /// ZSET worker id -> lease expiry (ms): one lease per worker holding runs of this
    /// queue, set by its claims and renewals (a worker renews all its runs at once, so
    /// one expiry per worker says what one per run did, for one write per claim batch).
    /// When it expires, sweep recovers that worker's active entries.
    pub leases: String,
    /// ZSET id -> lease expiry (ms), one per task: the lease set of workers from before
    /// per-worker leases, still swept (their runs are recovered) and never written.
    pub lease: String,
    /// HASH id -> "<worker id>|<claim token>|<claimed at ms>|<envelope JSON>" for active
    /// tasks: owner, run and message in one field, so claim and finish touch one entry.
    pub active: String,
    /// STRING counter handing out claim (fencing) tokens: one per run of a task.
    pub claims: String,
    /// ZSET claim token -> ms when its lease expired and the task was recovered: a run
    /// whose late outcome must be refused as superseded. Trimmed to a day.
    pub superseded: String,
    /// HASH id -> envelope JSON, for scheduled, retry and dead tasks.
    pub data: String,
    /// ZSET id -> due time (ms) for `--countdown`/`--eta` tasks.
    pub scheduled: String,
    /// ZSET id -> due time (ms) for tasks waiting to be retried.
    pub retry: String,
    /// ZSET id -> time of death (ms).
    pub dead: String,
    /// STRING present while the queue is paused.
    pub paused: String,
    /// HASH of counters: done, failed, retried, dead, recovered.
    pub stats: String,
    /// HASH id -> the task's history (JSON lines, one event each), for `inspect task`;
    /// also `u:<unique key>` -> the id of the last task that held that key.
    pub history: String,
    /// LIST of "<end ms>|<id>" (and "<end ms>|u:<key>") in the order tasks ended,
    /// oldest first: trims `history` by age and count. Appending is O(1) per task; a task
    /// that ends again (requeued from dead) is listed again, and a trimmed entry deletes
    /// a record only if the record still says its task ended then.
    pub history_ends: String,
    /// ZSET of ended tasks -> end time (ms): the trim index from before `history_ends`,
    /// moved into it by the sweeps and never written.
    pub history_ended: String,
    /// STRING: id of the worker that promotes and sweeps this queue for now (short lease).
    pub upkeep: String,
}

impl QueueKeys {
    pub fn new(queue: &str) -> Self {
        let k = |s: &str| format!("{PREFIX}:{{{queue}}}:{s}");
        QueueKeys {
            name: queue.to_string(),
            pending: k("pending"),
            leases: k("leases"),
            lease: k("lease"),
            active: k("active"),
            claims: k("claims"),
            superseded: k("superseded"),
            data: k("data"),
            scheduled: k("scheduled"),
            retry: k("retry"),
            dead: k("dead"),
            paused: k("paused"),
            stats: k("stats"),
            history: k("history"),
            history_ends: k("history:ends"),
            history_ended: k("history:ended"),
            upkeep: k("upkeep"),
        }
    }

    /// Held while a task with this unique key is pending, active or retrying.
    pub fn unique(&self, key: &str) -> String {
        format!("{PREFIX}:{{{}}}:unique:{key}", self.name)
    }

    /// Prefix of unique keys; Lua appends the key (so scripts need not build names).
    pub fn unique_prefix(&self) -> String {
        format!("{PREFIX}:{{{}}}:unique:", self.name)
    }

    /// Idempotency key of one beat fire (entry, fire time) in this queue's slot: holds
    /// "<status>|<task id>" of the enqueue it made, so a repeated enqueue of the same
    /// fire (lost reply, a second beat) adds nothing.
    pub fn fired(&self, entry: &str, fire_ms: u64) -> String {
        format!("{PREFIX}:{{{}}}:fired:{entry}:{fire_ms}", self.name)
    }

    /// HASH minute (epoch ms / 60000) -> "<done>,<failed>": the stats counters as
    /// `ciq web` sampled them in that minute (the last hour), for done/failed per minute.
    pub fn rate_samples(&self) -> String {
        format!("{PREFIX}:{{{}}}:rate", self.name)
    }

    /// Result of a finished task, kept briefly for `enqueue --wait`.
    pub fn result(&self, id: &str) -> String {
        format!("{PREFIX}:{{{}}}:result:{id}", self.name)
    }
}

/// The only keys the built-in `noop` task may write (`incr`, `record`, `lat_key`): it is
/// benchmark support, and must not let an enqueuer touch ciq's own keys.
pub const BENCH_PREFIX: &str = "ciq:bench:";

pub fn is_bench_key(key: &str) -> bool {
    key.len() > BENCH_PREFIX.len() && key.starts_with(BENCH_PREFIX)
}

/// SET of every queue name that has ever been used.
pub fn queues() -> String {
    format!("{PREFIX}:queues")
}

/// HASH worker id -> JSON description (host, pid, queues, concurrency, started).
pub fn workers() -> String {
    format!("{PREFIX}:workers")
}

/// ZSET worker id -> last heartbeat (ms).
pub fn workers_seen() -> String {
    format!("{PREFIX}:workers:seen")
}

/// Beat keys live under `ciq:{beat}:` (one hash tag: one cluster slot for beat's scripts).
pub fn beat(suffix: &str) -> String {
    format!("{PREFIX}:{{beat}}:{suffix}")
}

/// Scripts that touch several beat keys pass them all: they must share one slot.
#[cfg(test)]
fn slot_tag(key: &str) -> &str {
    let open = key.find('{').unwrap_or(0);
    let close = key[open..].find('}').map(|c| open + c).unwrap_or(key.len());
    &key[open..close]
}

/// A beat key as ciq named it before beat's keys moved under the `{beat}` hash tag
/// (read once at start-up to adopt an older version's state; never written).
pub fn legacy_beat(suffix: &str) -> String {
    format!("{PREFIX}:beat:{suffix}")
}

/// STRING: the beat leader lease, JSON `{"holder", "since_ms", "token"}` with a PX TTL.
pub fn beat_leader() -> String {
    beat("leader")
}

/// Counter handing out fencing tokens, one per lease acquisition.
pub fn beat_token() -> String {
    beat("token")
}

/// ZSET beat id -> last seen (ms): every running beat, leader or standby.
pub fn beat_seen() -> String {
    beat("beats")
}

/// HASH per schedule entry: last_fire_ms, next_fire_ms, last_task_id, last_outcome,
/// consecutive_failures, schedule.
pub fn beat_entry(entry: &str) -> String {
    beat(&format!("entry:{entry}"))
}

/// LIST of recent fires (JSON), newest first, trimmed.
pub fn beat_history(entry: &str) -> String {
    beat(&format!("history:{entry}"))
}

/// Idempotency key of one (entry, fire time); holds the task id, expires.
pub fn beat_fired(entry: &str, fire_ms: u64) -> String {
    beat(&format!("fired:{entry}:{fire_ms}"))
}

/// Per-task status for `enqueue --wait`: LIST that receives one outcome message.
pub fn notify(id: &str) -> String {
    format!("{PREFIX}:notify:{id}")
}

/// HASH test id -> ms when discovery first saw the test pending (removed once it is no
/// longer pending; the rollout's "stuck test" check reads it). Kept in Redis: ciq never
/// adds tables to the platform's database.
pub fn platform_first_seen() -> String {
    format!("{PREFIX}:platform:first_seen")
}

/// Shadow-stage evidence (all hashes keyed by test id, values ms): when ciq first saw
/// each test pending, and when the platform wrote its `gcp_instance` row (the start, by
/// the cron in stage 1); `since` is when the shadow watch began. The stage-2 gate reads
/// them: did ciq see every test the cron started, and how much earlier?
pub fn platform_shadow_seen() -> String {
    format!("{PREFIX}:platform:shadow:seen")
}

pub fn platform_shadow_started() -> String {
    format!("{PREFIX}:platform:shadow:started")
}

pub fn platform_shadow_since() -> String {
    format!("{PREFIX}:platform:shadow:since")
}

/// STRING: the last `ciq cron-guard` decision (JSON), for `status`.
pub fn platform_guard_last() -> String {
    format!("{PREFIX}:platform:guard:last")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_queue_hash_tag() {
        let k = QueueKeys::new("default");
        assert_eq!(k.pending, "ciq:{default}:pending");
        assert_eq!(
            k.unique("start_test:1"),
            "ciq:{default}:unique:start_test:1"
        );
        assert!(validate_queue_name("a{b}").is_err());
        assert!(validate_queue_name("test_execution").is_ok());
    }

    #[test]
    fn beat_keys_share_one_hash_tag() {
        for k in [
            beat_leader(),
            beat_token(),
            beat_seen(),
            beat_entry("e"),
            beat_history("e"),
            beat_fired("e", 1),
        ] {
            assert_eq!(slot_tag(&k), "{beat", "{k}");
        }
        assert_eq!(slot_tag(&QueueKeys::new("q").fired("e", 1)), "{q");
    }

    #[test]
    fn only_keys_under_the_bench_prefix_are_bench_keys() {
        assert!(is_bench_key("ciq:bench:done"));
        for k in [
            "ciq:bench:",
            "ciq:{default}:pending",
            "t:done",
            "ciq:benchx",
            "",
        ] {
            assert!(!is_bench_key(k), "{k}");
        }
    }
}
