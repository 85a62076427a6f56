//! The task lifecycle: enqueue, claim, finish, renew, sweep, promote.
//!
//! Every time-dependent judgement (lease expiry, due times) is made inside the scripts
//! on the Redis server's clock, so a worker or client with a wrong clock cannot steal
//! or delay work. Each claim hands out a fencing token per run; renew and finish carry
//! it, so a superseded run changes nothing.

use super::refill::{applied, claim_call, finish_call};
use super::scripts::*;
use super::{keys, Broker, Envelope, Error, QueueKeys, Result};
use redis::AsyncCommands;
use std::time::Duration;

/// Result of an enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    New(String),
    /// The unique key is held by this task.
    Duplicate(String),
}

impl Enqueued {
    pub fn id(&self) -> &str {
        match self {
            Enqueued::New(id) | Enqueued::Duplicate(id) => id,
        }
    }
}

/// What `claim` found.
#[derive(Debug)]
pub enum Claim {
    Paused,
    /// Per run: its claim token and the raw envelope JSON, decoded by the worker (a bad
    /// one is dead-lettered there).
    Tasks(Vec<(u64, String)>),
}

/// What `finish` did with one run's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Recorded now.
    Yes,
    /// Refused: the run's lease expired and the task was recovered; another run counts.
    Superseded,
    /// Recorded earlier by this very run (a retried write whose first reply was lost).
    Already,
}

/// What `renew` did.
#[derive(Debug)]
pub struct Renewal {
    /// Tokens of runs that were superseded (recovered elsewhere, or canceled).
    pub superseded: Vec<u64>,
    /// Why the new leases are not confirmed by `min_replicas` replicas (None: they are).
    pub unconfirmed: Option<Error>,
}

/// How a task ended, as recorded by `finish`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishKind {
    Done,
    /// Back to the retry set until `score` (ms).
    Retry,
    /// Dead after retries ran out or as poison.
    Dead,
    /// Dead after a permanent failure.
    Failed,
    /// Back to the front of pending (shutdown); not an attempt.
    Requeue,
    /// Back to the retry set until `score` (ms) without using up an attempt.
    Defer,
    /// The worker stopped the run itself (lease not renewed in time, or superseded):
    /// back to pending if the run is still current, else only noted in the history.
    Fenced,
}

impl FinishKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishKind::Done => "done",
            FinishKind::Retry => "retry",
            FinishKind::Dead => "dead",
            FinishKind::Failed => "failed",
            FinishKind::Requeue => "requeue",
            FinishKind::Defer => "defer",
            FinishKind::Fenced => "fenced",
        }
    }
}

/// How long and how many ended tasks' histories a queue keeps (`inspect task`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Kept this long after the task ended (ms).
    pub retention_ms: u64,
    /// At most this many ended tasks per queue (oldest trimmed first).
    pub max: u64,
}

#[derive(Debug, Clone)]
pub struct Finish {
    pub id: String,
    /// The claim token of the run this outcome belongs to.
    pub token: u64,
    pub kind: FinishKind,
    /// The envelope to store (retry, dead, requeue); empty for done.
    pub envelope: String,
    /// Retry: how long from now (Redis's clock) until the task is due again.
    pub delay_ms: u64,
    pub unique_key: Option<String>,
    /// Task name, for per-task counters.
    pub task: String,
    /// The run's attempt, as claimed (for the history's `claimed` event; 0 = unknown, the
    /// script then reads it from the active entry).
    pub attempt: u32,
}

impl Broker {
    /// Enqueues one task; `due_ms` > now keeps it in the scheduled set until then.
    pub async fn enqueue(&self, env: &Envelope, due_ms: Option<u64>) -> Result<Enqueued> {
        self.enqueue_at(env, due_ms.unwrap_or(0), 0).await
    }

    /// Enqueues one task due `delay` from now by the Redis server's clock (`--countdown`).
    pub async fn enqueue_after(&self, env: &Envelope, delay: Duration) -> Result<Enqueued> {
        self.enqueue_at(env, 0, (delay.as_millis() as u64).max(1))
            .await
    }

    async fn enqueue_at(&self, env: &Envelope, due_ms: u64, delay_ms: u64) -> Result<Enqueued> {
        let mut c = self.conn();
        let r = self
            .enqueue_script(&mut c, env, due_ms, delay_ms, None)
            .await?;
        self.replicated(&mut c).await?;
        Ok(r)
    }

    /// The enqueue script, plus the queue registry update. `idem`: beat's idempotency
    /// key for this fire and its TTL: a repeat returns what the first call did.
    pub(crate) async fn enqueue_script(
        &self,
        c: &mut super::Conn,
        env: &Envelope,
        due_ms: u64,
        delay_ms: u64,
        idem: Option<(&str, Duration)>,
    ) -> Result<Enqueued> {
        let q = QueueKeys::new(&env.queue);
        let (ukey, has_unique) = match &env.unique_key {
            Some(u) => (q.unique(u), "1"),
            None => (q.unique(""), "0"),
        };
        let mut inv = ENQUEUE.key(&q.pending);
        inv.key(&q.scheduled)
            .key(&q.data)
            .key(ukey)
            .key(&q.history)
            .key(idem.map(|(k, _)| k).unwrap_or(&q.pending))
            .key(&q.retry)
            .arg(&env.id)
            .arg(env.to_json())
            .arg(due_ms)
            .arg(has_unique)
            .arg(delay_ms)
            .arg(env.unique_key.as_deref().unwrap_or(""))
            .arg(
                idem.map(|(_, ttl)| ttl.as_millis().max(1) as u64)
                    .unwrap_or(0),
            )
            .arg(if idem.is_some() { "beat" } else { "" });
        // The queue registry update rides the same multiplexed connection concurrently, so
        // it adds no round trip of its own (a separate command: on Redis Cluster the
        // registry may live on another node).
        let mut c2 = self.conn();
        let (res, _) = tokio::join!(
            inv.invoke_async::<(i64, String)>(c),
            c2.sadd::<_, _, ()>(keys::queues(), &env.queue)
        );
        let (ok, id) = res.map_err(|e| self.err(e))?;
        Ok(if ok == 1 {
            Enqueued::New(id)
        } else {
            Enqueued::Duplicate(id)
        })
    }

    /// Enqueues many immediate tasks without unique keys in batches of 1,000, each batch
    /// one MULTI/EXEC transaction: a batch goes in whole or not at all (Redis refuses it
    /// at queueing time when out of memory), so the count that went in is exact. Returns
    /// how many went in and the error that stopped the rest, if any.
    pub async fn enqueue_bulk(&self, envs: &[Envelope]) -> (usize, Result<()>) {
        let mut c = self.conn();
        let mut queues: Vec<&str> = envs.iter().map(|e| e.queue.as_str()).collect();
        queues.sort_unstable();
        queues.dedup();
        if !queues.is_empty() {
            if let Err(e) = c.sadd::<_, _, ()>(keys::queues(), queues).await {
                return (0, Err(self.err(e)));
            }
        }
        let mut done = 0;
        // A transaction never spans two queues: on Redis Cluster they may be on two nodes.
        for run in envs.chunk_by(|a, b| a.queue == b.queue) {
            for chunk in run.chunks(1000) {
                let mut p = redis::pipe();
                p.atomic();
                for e in chunk {
                    p.lpush(QueueKeys::new(&e.queue).pending, e.to_json())
                        .ignore();
                }
                if let Err(e) = p.query_async::<()>(&mut c).await {
                    return (done, Err(self.err(e)));
                }
                done += chunk.len();
            }
        }
        if let Err(e) = self.replicated(&mut c).await {
            return (done, Err(e));
        }
        (done, Ok(()))
    }

    /// Takes up to `n` pending tasks and leases them to `worker` in one atomic step.
    pub async fn claim(
        &self,
        q: &QueueKeys,
        worker: &str,
        n: usize,
        lease: Duration,
    ) -> Result<Claim> {
        let mut c = self.conn();
        let v: redis::Value = claim_call(q, worker, n, lease)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        let claim = self.claim_reply(v)?;
        self.confirm_claim(&mut c, q, worker, &claim).await?;
        Ok(claim)
    }

    /// `claim.lua`'s reply: {-1}: paused; {}: nothing pending; else {first token,
    /// envelope, ...}, the runs' tokens counting up from the first.
    pub(crate) fn claim_reply(&self, v: redis::Value) -> Result<Claim> {
        let mut items: Vec<redis::Value> =
            redis::from_owned_redis_value(v).map_err(|e| self.err(e))?;
        if items.is_empty() {
            return Ok(Claim::Tasks(Vec::new()));
        }
        let envs = items.split_off(1);
        let first: i64 =
            redis::from_owned_redis_value(items.swap_remove(0)).map_err(|e| self.err(e))?;
        if first < 0 {
            return Ok(Claim::Paused);
        }
        let tasks = (first as u64..)
            .zip(envs)
            .map(|(token, e)| Ok((token, redis::from_owned_redis_value::<String>(e)?)))
            .collect::<redis::RedisResult<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(Claim::Tasks(tasks))
    }

    /// With `min_replicas`, a run starts only once its claim is on a replica: a failover
    /// cannot lose the claim and hand the task to a second worker. If that cannot be
    /// confirmed the claim is not used: its tasks are given back, as they were (late,
    /// never twice, no attempt spent).
    pub(crate) async fn confirm_claim(
        &self,
        c: &mut super::Conn,
        q: &QueueKeys,
        worker: &str,
        claim: &Claim,
    ) -> Result<()> {
        let Claim::Tasks(tasks) = claim else {
            return Ok(());
        };
        if tasks.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.replicated(c).await {
            self.release_unconfirmed(q, worker, tasks).await;
            return Err(e);
        }
        Ok(())
    }

    /// Records outcomes; returns, per item, what became of it.
    pub async fn finish(
        &self,
        q: &QueueKeys,
        worker: &str,
        items: &[Finish],
        dead_max: u64,
        hist: HistoryLimits,
    ) -> Result<Vec<Applied>> {
        let mut c = self.conn();
        let res: Vec<i64> = finish_call(q, worker, items, dead_max, hist)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        self.replicated(&mut c).await?;
        Ok(applied(res))
    }

    /// Extends the leases of this worker's runs (task id, claim token). With
    /// `min_replicas` the new leases count only once a replica has them (WAIT, as after
    /// a claim or outcome): a failover would bring back the older lease otherwise.
    pub async fn renew(
        &self,
        q: &QueueKeys,
        worker: &str,
        runs: &[(String, u64)],
        lease: Duration,
    ) -> Result<Renewal> {
        let mut c = self.conn();
        let mut inv = RENEW.key(&q.lease);
        inv.key(&q.active)
            .key(&q.superseded)
            .arg(lease.as_millis() as u64)
            .arg(worker);
        for (id, token) in runs {
            inv.arg(id).arg(token);
        }
        let superseded = inv.invoke_async(&mut c).await.map_err(|e| self.err(e))?;
        let unconfirmed = self.replicated(&mut c).await.err();
        Ok(Renewal {
            superseded,
            unconfirmed,
        })
    }

    /// Recovers expired leases; returns (recovered, dead). First reads which leases are
    /// expiring (by the Redis server's clock) and their tasks' unique keys, so the script
    /// declares every key it may touch; nothing expiring: one round trip, no script.
    /// `overdue`: only leases expired at least this long ago (zero for the queue's upkeep
    /// holder; the other workers' backstop sweep passes more).
    pub async fn sweep(
        &self,
        q: &QueueKeys,
        max_deliveries: u32,
        overdue: Duration,
    ) -> Result<(u64, u64)> {
        const MAX: isize = 1000;
        let mut c = self.conn();
        let ((secs, micros), leases): ((u64, u64), Vec<(String, f64)>) = redis::pipe()
            .cmd("TIME")
            .zrange_withscores(&q.lease, 0, MAX - 1)
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        // A second's slack: the script decides by the server's clock when it runs.
        let now = (secs * 1000 + micros / 1000 + 1000).saturating_sub(overdue.as_millis() as u64);
        let expiring: Vec<String> = leases
            .into_iter()
            .filter(|(_, at)| *at <= now as f64)
            .map(|(id, _)| id)
            .collect();
        if expiring.is_empty() {
            return Ok((0, 0));
        }
        let active: Vec<Option<String>> = c
            .hmget(&q.active, &expiring)
            .await
            .map_err(|e| self.err(e))?;
        let uniques = unique_keys(
            q,
            active
                .iter()
                .flatten()
                .filter_map(|cur| cur.splitn(4, '|').nth(3)),
        );
        let mut inv = SWEEP.key(&q.lease);
        inv.key(&q.active)
            .key(&q.data)
            .key(&q.pending)
            .key(&q.dead)
            .key(&q.stats)
            .key(&q.superseded)
            .key(&q.history)
            .key(&q.history_ended);
        for k in &uniques {
            inv.key(k);
        }
        let (r, d): (u64, u64) = inv
            .arg(MAX)
            .arg(q.unique_prefix())
            .arg(max_deliveries)
            .arg(overdue.as_millis() as u64)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok((r, d))
    }

    pub async fn promote(&self, q: &QueueKeys) -> Result<(u64, Option<Duration>)> {
        let mut c = self.conn();
        let (moved, next): (u64, i64) = PROMOTE
            .key(&q.scheduled)
            .key(&q.retry)
            .key(&q.data)
            .key(&q.pending)
            .arg(1000)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok((
            moved,
            (next >= 0).then(|| Duration::from_millis(next as u64)),
        ))
    }

    /// The Redis server's clock (ms since the epoch): the one clock ciq judges time by.
    pub async fn redis_time(&self) -> Result<u64> {
        let mut c = self.conn();
        let (s, us): (u64, u64) = redis::cmd("TIME")
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(s * 1000 + us / 1000)
    }

    /// Blocks (on `conn`, a dedicated connection) until `q` has a pending task or the
    /// timeout passes, without taking the task: BLMOVE from the list's tail to its tail.
    pub async fn wait_pending(
        &self,
        conn: &mut super::Conn,
        q: &QueueKeys,
        timeout: Duration,
    ) -> Result<bool> {
        let v: Option<String> = redis::cmd("BLMOVE")
            .arg(&q.pending)
            .arg(&q.pending)
            .arg("RIGHT")
            .arg("RIGHT")
            .arg(timeout.as_secs_f64())
            .query_async(conn)
            .await
            .map_err(|e| self.err(e))?;
        Ok(v.is_some())
    }

    /// Tells a waiting `enqueue --wait` how its task ended.
    pub async fn notify(&self, id: &str, outcome_json: &str) -> Result<()> {
        let mut c = self.conn();
        let k = keys::notify(id);
        redis::pipe()
            .lpush(&k, outcome_json)
            .ignore()
            .expire(&k, 3600)
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(|e| self.err(e))
    }

    /// Waits for the outcome of task `id` (see `notify`); None on timeout.
    pub async fn wait_outcome(&self, id: &str, timeout: Duration) -> Result<Option<String>> {
        let mut c = self.blocking_connection().await?;
        let v: Option<(String, String)> = redis::cmd("BLPOP")
            .arg(keys::notify(id))
            .arg(timeout.as_secs_f64())
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(v.map(|(_, o)| o))
    }
}

/// The unique keys (declared script keys) of the tasks whose envelopes these are.
pub(crate) fn unique_keys<'a>(
    q: &QueueKeys,
    envelopes: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let mut keys: Vec<String> = envelopes
        .filter_map(|e| Envelope::from_json(e).ok()?.unique_key)
        .map(|u| q.unique(&u))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}
