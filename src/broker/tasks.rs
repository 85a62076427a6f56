//! A queue's tasks read by state: the running ones with their runs, and those in a
//! sorted set (scheduled, retry, dead) with their scores and messages.

use super::history::ActiveEntry;
use super::{Broker, Envelope, QueueKeys, Result};
use redis::AsyncCommands;
use serde::Serialize;

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
    pub async fn active(&self, queue: &str) -> Result<Vec<ActiveTask>> {
        let q = QueueKeys::new(queue);
        let mut c = self.conn();
        Ok(self
            .running(&mut c, &q)
            .await?
            .into_iter()
            .map(|r| {
                let a = ActiveEntry::parse(&r.entry);
                ActiveTask {
                    envelope: Envelope::from_json(a.envelope).ok(),
                    queue: queue.into(),
                    worker: a.worker.to_string(),
                    run: a.token.unwrap_or(0),
                    claimed_at_ms: a.claimed_ms,
                    lease_expires_ms: r.lease_expires_ms,
                    id: r.id,
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
        let datas = self.fields_of(&mut c, &q.data, &items).await?;
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
}
