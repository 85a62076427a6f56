//! Operator reads and writes: depth, inspect, purge, requeue, pause, worker registry.

use super::scripts::{PURGE, REQUEUE};
use super::{keys, Broker, Envelope, QueueKeys, Result};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

pub use super::server_info::ServerInfo;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Depth {
    pub queue: String,
    pub pending: u64,
    pub active: u64,
    pub scheduled: u64,
    pub retry: u64,
    pub dead: u64,
    /// Age in seconds of the oldest pending task.
    pub oldest_pending_age_s: Option<f64>,
    pub paused: bool,
}

/// A task being run right now, as recorded in Redis.
#[derive(Debug, Clone, Serialize)]
pub struct ActiveTask {
    pub envelope: Option<Envelope>,
    pub id: String,
    pub queue: String,
    pub worker: String,
    /// The claim (fencing) token of this run.
    pub run: u64,
    pub claimed_at_ms: u64,
    pub lease_expires_ms: u64,
}

/// A task in a delayed state (scheduled, retry or dead) with its score.
#[derive(Debug, Clone, Serialize)]
pub struct StoredTask {
    pub id: String,
    pub queue: String,
    pub score_ms: u64,
    /// None when the stored JSON could not be decoded.
    pub envelope: Option<Envelope>,
    pub raw: Option<String>,
}

/// Which set a purge or listing addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Scheduled,
    Retry,
    Dead,
}

impl State {
    pub const ALL: [State; 4] = [State::Pending, State::Scheduled, State::Retry, State::Dead];
    pub fn key(self, q: &QueueKeys) -> &str {
        match self {
            State::Pending => &q.pending,
            State::Scheduled => &q.scheduled,
            State::Retry => &q.retry,
            State::Dead => &q.dead,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Scheduled => "scheduled",
            State::Retry => "retry",
            State::Dead => "dead",
        }
    }
}

impl Broker {
    /// Every queue known to Redis plus the configured ones, sorted.
    pub async fn known_queues(&self, configured: &[String]) -> Result<Vec<String>> {
        let mut c = self.conn();
        let mut qs: Vec<String> = c.smembers(keys::queues()).await.map_err(|e| self.err(e))?;
        qs.extend(configured.iter().cloned());
        qs.sort();
        qs.dedup();
        Ok(qs)
    }

    pub async fn depth(&self, queue: &str, now: u64) -> Result<Depth> {
        let q = QueueKeys::new(queue);
        let mut c = self.conn();
        let (pending, active, scheduled, retry, dead, paused, oldest): (
            u64,
            u64,
            u64,
            u64,
            u64,
            bool,
            Option<String>,
        ) = redis::pipe()
            .llen(&q.pending)
            .zcard(&q.lease)
            .zcard(&q.scheduled)
            .zcard(&q.retry)
            .zcard(&q.dead)
            .exists(&q.paused)
            .lindex(&q.pending, -1)
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        let oldest_pending_age_s = oldest
            .and_then(|s| Envelope::from_json(&s).ok())
            .map(|e| now.saturating_sub(e.enqueued_at) as f64 / 1000.0);
        Ok(Depth {
            queue: queue.into(),
            pending,
            active,
            scheduled,
            retry,
            dead,
            oldest_pending_age_s,
            paused,
        })
    }

    pub async fn active(&self, queue: &str) -> Result<Vec<ActiveTask>> {
        let q = QueueKeys::new(queue);
        let mut c = self.conn();
        let leases: Vec<(String, u64)> = c
            .zrange_withscores(&q.lease, 0, -1)
            .await
            .map_err(|e| self.err(e))?;
        if leases.is_empty() {
            return Ok(vec![]);
        }
        let ids: Vec<&String> = leases.iter().map(|(id, _)| id).collect();
        let actives: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(&q.active)
            .arg(&ids)
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(leases
            .iter()
            .zip(actives)
            .map(|((id, exp), cur)| {
                // "<worker>|<claim token>|<claimed ms>|<envelope>"
                let cur = cur.unwrap_or_default();
                let mut parts = cur.splitn(4, '|');
                let worker = parts.next().unwrap_or("").to_string();
                let run = parts.next().and_then(|a| a.parse().ok()).unwrap_or(0);
                let at = parts.next().and_then(|a| a.parse().ok()).unwrap_or(0);
                ActiveTask {
                    envelope: parts.next().and_then(|d| Envelope::from_json(d).ok()),
                    id: id.clone(),
                    queue: queue.into(),
                    worker,
                    run,
                    claimed_at_ms: at,
                    lease_expires_ms: *exp,
                }
            })
            .collect())
    }

    /// Tasks in a sorted-set state (scheduled, retry, dead), oldest first, at most `limit`.
    pub async fn stored(&self, queue: &str, state: State, limit: isize) -> Result<Vec<StoredTask>> {
        self.stored_range(queue, state, false, limit).await
    }

    /// Tasks in a sorted-set state, newest (latest score) first, at most `limit`.
    pub async fn newest(&self, queue: &str, state: State, limit: isize) -> Result<Vec<StoredTask>> {
        self.stored_range(queue, state, true, limit).await
    }

    async fn stored_range(
        &self,
        queue: &str,
        state: State,
        newest_first: bool,
        limit: isize,
    ) -> Result<Vec<StoredTask>> {
        let q = QueueKeys::new(queue);
        let mut c = self.conn();
        let items: Vec<(String, f64)> = if newest_first {
            c.zrevrange_withscores(state.key(&q), 0, limit - 1).await
        } else {
            c.zrange_withscores(state.key(&q), 0, limit - 1).await
        }
        .map_err(|e| self.err(e))?;
        if items.is_empty() {
            return Ok(vec![]);
        }
        let ids: Vec<&String> = items.iter().map(|(id, _)| id).collect();
        let datas: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(&q.data)
            .arg(&ids)
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(items
            .into_iter()
            .zip(datas)
            .map(|((id, score), raw)| {
                let envelope = raw.as_deref().and_then(|r| Envelope::from_json(r).ok());
                StoredTask {
                    id,
                    queue: queue.into(),
                    score_ms: score as u64,
                    raw: if envelope.is_none() { raw } else { None },
                    envelope,
                }
            })
            .collect())
    }

    /// The stored message JSON of each id (None when the queue holds no such task).
    pub async fn task_data(&self, queue: &str, ids: &[String]) -> Result<Vec<Option<String>>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut c = self.conn();
        redis::cmd("HMGET")
            .arg(QueueKeys::new(queue).data)
            .arg(ids)
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))
    }

    /// Moves dead tasks back to pending. Per id: 1 requeued, 0 not dead, -1 unique key held.
    pub async fn requeue_dead(&self, queue: &str, ids: &[String]) -> Result<Vec<i64>> {
        let q = QueueKeys::new(queue);
        let mut c = self.conn();
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let envs: Vec<Option<String>> = c.hmget(&q.data, ids).await.map_err(|e| self.err(e))?;
        let mut inv = REQUEUE.key(&q.dead);
        inv.key(&q.data)
            .key(&q.pending)
            .key(&q.history)
            .key(&q.history_ended);
        for k in super::ops::unique_keys(&q, envs.iter().flatten().map(String::as_str)) {
            inv.key(k);
        }
        inv.arg(q.unique_prefix()).arg(super::now_ms());
        for id in ids {
            inv.arg(id);
        }
        inv.invoke_async(&mut c).await.map_err(|e| self.err(e))
    }

    /// Deletes up to `batch` tasks of one state; returns how many went.
    pub async fn purge_batch(&self, queue: &str, state: State, batch: usize) -> Result<u64> {
        let q = QueueKeys::new(queue);
        let mut c = self.conn();
        let kind = if state == State::Pending {
            "list"
        } else {
            "zset"
        };
        // Read the tasks first, so the script declares their unique keys.
        let envs: Vec<String> = if state == State::Pending {
            c.lrange(&q.pending, -(batch as isize), -1)
                .await
                .map_err(|e| self.err(e))?
        } else {
            let ids: Vec<String> = c
                .zrange(state.key(&q), 0, batch as isize - 1)
                .await
                .map_err(|e| self.err(e))?;
            if ids.is_empty() {
                vec![]
            } else {
                let v: Vec<Option<String>> =
                    c.hmget(&q.data, &ids).await.map_err(|e| self.err(e))?;
                v.into_iter().flatten().collect()
            }
        };
        let mut inv = PURGE.key(state.key(&q));
        inv.key(&q.data).key(&q.history).key(&q.history_ended);
        for k in super::ops::unique_keys(&q, envs.iter().map(String::as_str)) {
            inv.key(k);
        }
        inv.arg(kind)
            .arg(batch)
            .arg(q.unique_prefix())
            .arg(super::now_ms())
            .arg(state.name())
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))
    }

    pub async fn set_paused(&self, queue: &str, paused: bool) -> Result<()> {
        let q = QueueKeys::new(queue);
        let mut c = self.conn();
        let r: redis::RedisResult<()> = if paused {
            let mut c2 = self.conn();
            let (a, b) = tokio::join!(
                c.set::<_, _, ()>(&q.paused, now_string()),
                c2.sadd::<_, _, ()>(keys::queues(), queue)
            );
            a.and(b)
        } else {
            c.del(&q.paused).await
        };
        r.map_err(|e| self.err(e))
    }

    /// Per-queue counters (done, failed, retried, dead, recovered).
    pub async fn stats(&self, queue: &str) -> Result<std::collections::BTreeMap<String, u64>> {
        let mut c = self.conn();
        c.hgetall(QueueKeys::new(queue).stats)
            .await
            .map_err(|e| self.err(e))
    }

    /// Registers or refreshes a worker (heartbeat).
    pub async fn worker_heartbeat(&self, id: &str, info_json: &str, now: u64) -> Result<()> {
        // Two commands sent together, not a pipeline: on Redis Cluster the two registry
        // keys may live on different nodes.
        let (mut c1, mut c2) = (self.conn(), self.conn());
        let (a, b) = tokio::join!(
            c1.hset::<_, _, _, ()>(keys::workers(), id, info_json),
            c2.zadd::<_, _, _, ()>(keys::workers_seen(), id, now)
        );
        a.and(b).map_err(|e| self.err(e))
    }

    pub async fn worker_gone(&self, id: &str) -> Result<()> {
        let (mut c1, mut c2) = (self.conn(), self.conn());
        let (a, b) = tokio::join!(
            c1.hdel::<_, _, ()>(keys::workers(), id),
            c2.zrem::<_, _, ()>(keys::workers_seen(), id)
        );
        a.and(b).map_err(|e| self.err(e))
    }

    /// Workers with their info JSON and last heartbeat (ms); drops entries older than `forget_ms`.
    pub async fn workers(&self, now: u64, forget_ms: u64) -> Result<Vec<(String, String, u64)>> {
        let mut c = self.conn();
        let stale: Vec<String> = c
            .zrangebyscore(keys::workers_seen(), 0, now.saturating_sub(forget_ms))
            .await
            .map_err(|e| self.err(e))?;
        for id in &stale {
            self.worker_gone(id).await?;
        }
        let seen: Vec<(String, u64)> = c
            .zrange_withscores(keys::workers_seen(), 0, -1)
            .await
            .map_err(|e| self.err(e))?;
        let mut out = vec![];
        for (id, at) in seen {
            let info: Option<String> = c
                .hget(keys::workers(), &id)
                .await
                .map_err(|e| self.err(e))?;
            out.push((id, info.unwrap_or_default(), at));
        }
        Ok(out)
    }
}

fn now_string() -> String {
    super::now_ms().to_string()
}

impl Broker {
    /// The raw value of the beat leader key (JSON written by `ciq beat`), if any.
    pub async fn beat_leader_raw(&self) -> Result<Option<String>> {
        let mut c = self.conn();
        c.get(keys::beat("leader")).await.map_err(|e| self.err(e))
    }
}
