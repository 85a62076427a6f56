//! Queues: which exist, how deep each is, paused or not, and their counters.

use super::{keys, Broker, Envelope, QueueKeys, Result};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
            .hlen(&q.active)
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

    /// Raw per-queue stats fields (including `last_done:<task>` / `last_failed:<task>`).
    pub async fn stats_raw(&self, queue: &str) -> Result<BTreeMap<String, String>> {
        let mut c = self.conn();
        c.hgetall(QueueKeys::new(queue).stats)
            .await
            .map_err(|e| self.err(e))
    }
}

fn now_string() -> String {
    super::now_ms().to_string()
}
