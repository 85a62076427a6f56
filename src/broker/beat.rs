//! Beat state in Redis: the leader lease with its fencing token, the per-entry cursor
//! and last-run record, the bounded fire history, and the atomic fire.

use super::ops::Enqueued;
use super::scripts::{BEAT_FIRE, BEAT_LEASE, BEAT_OUTCOME, BEAT_RELEASE};
use super::{keys, Broker, Envelope, QueueKeys, Result};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// The lease as seen by one beat after trying to take or renew it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// True when the asking beat holds it now.
    pub ours: bool,
    pub holder: String,
    pub token: u64,
    pub since_ms: u64,
    /// The Redis server's clock when the lease was checked: beat plans ticks by it.
    pub now_ms: u64,
}

/// The lease as stored (`ciq:beat:leader`), plus how long it has left.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaderInfo {
    pub holder: String,
    pub since_ms: u64,
    pub token: u64,
    #[serde(default)]
    pub ttl_ms: u64,
}

/// One entry's record (`ciq:beat:entry:<name>`); fields absent until first written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryState {
    pub last_fire_ms: Option<u64>,
    pub next_fire_ms: Option<u64>,
    pub last_task_id: Option<String>,
    pub last_outcome: Option<String>,
    pub consecutive_failures: u64,
    pub schedule: Option<String>,
}

/// One line of `ciq:beat:history:<entry>`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FireRecord {
    pub fire_ms: u64,
    pub at_ms: u64,
    pub task_id: String,
    pub duplicate: bool,
    pub late: bool,
    pub holder: String,
    pub token: u64,
}

/// Everything one fire (or cursor move) needs.
#[derive(Debug, Clone)]
pub struct Fire<'a> {
    pub entry: &'a str,
    pub holder: &'a str,
    pub token: u64,
    /// None: only set the cursor to `next_ms`.
    pub fire_ms: Option<u64>,
    pub next_ms: u64,
    pub schedule: &'a str,
    /// How long the idempotency key outlives the fire.
    pub fired_ttl: Duration,
    pub history: usize,
    /// The task to enqueue (required when `fire_ms` is set).
    pub envelope: Option<&'a Envelope>,
    pub late: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// The lease is not (or no longer) ours with this token: nothing was written.
    NotLeader,
    /// This fire time was fired before (by us or another beat); holds that task id.
    Already(String),
    Enqueued(Enqueued),
    CursorSet,
}

fn parse_u64(m: &HashMap<String, String>, k: &str) -> Option<u64> {
    m.get(k).and_then(|v| v.parse().ok())
}

impl Broker {
    /// Takes the lease if it is free, renews it if it is ours.
    pub async fn beat_lease(&self, holder: &str, lease: Duration) -> Result<Lease> {
        let mut c = self.conn();
        let (ours, token, since, who, now): (i64, String, String, String, String) = BEAT_LEASE
            .key(keys::beat_leader())
            .key(keys::beat_token())
            .key(keys::beat_seen())
            .arg(holder)
            .arg(lease.as_millis() as u64)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(Lease {
            ours: ours == 1,
            holder: who,
            token: token.parse().unwrap_or(0),
            since_ms: since.parse().unwrap_or(0),
            now_ms: now.parse().unwrap_or(0),
        })
    }

    /// Gives the lease up if it is still ours; true when it was.
    pub async fn beat_release(&self, holder: &str, token: u64) -> Result<bool> {
        let mut c = self.conn();
        let r: i64 = BEAT_RELEASE
            .key(keys::beat_leader())
            .key(keys::beat_seen())
            .arg(holder)
            .arg(token.to_string())
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(r == 1)
    }

    /// Who holds the lease now, if anyone (undecodable values read as absent).
    pub async fn beat_leader(&self) -> Result<Option<LeaderInfo>> {
        let mut c = self.conn();
        let (v, ttl): (Option<String>, i64) = redis::pipe()
            .get(keys::beat_leader())
            .pttl(keys::beat_leader())
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(v.and_then(|s| serde_json::from_str::<LeaderInfo>(&s).ok())
            .map(|mut l| {
                l.ttl_ms = ttl.max(0) as u64;
                l
            }))
    }

    /// Running beats (leader and standbys) with when each last renewed or checked
    /// the lease, most recent first; entries older than `max_age_ms` are left out.
    pub async fn beats_seen(&self, now: u64, max_age_ms: u64) -> Result<Vec<(String, u64)>> {
        let mut c = self.conn();
        c.zrevrangebyscore_withscores(keys::beat_seen(), "+inf", now.saturating_sub(max_age_ms))
            .await
            .map_err(|e| self.err(e))
    }

    pub async fn beat_entry(&self, entry: &str) -> Result<EntryState> {
        let mut c = self.conn();
        let m: HashMap<String, String> = c
            .hgetall(keys::beat_entry(entry))
            .await
            .map_err(|e| self.err(e))?;
        Ok(EntryState {
            last_fire_ms: parse_u64(&m, "last_fire_ms"),
            next_fire_ms: parse_u64(&m, "next_fire_ms"),
            last_task_id: m.get("last_task_id").cloned(),
            last_outcome: m.get("last_outcome").cloned(),
            consecutive_failures: parse_u64(&m, "consecutive_failures").unwrap_or(0),
            schedule: m.get("schedule").cloned(),
        })
    }

    /// Recent fires of an entry, newest first.
    pub async fn beat_history(&self, entry: &str, n: usize) -> Result<Vec<FireRecord>> {
        let mut c = self.conn();
        let v: Vec<String> = c
            .lrange(keys::beat_history(entry), 0, n as isize - 1)
            .await
            .map_err(|e| self.err(e))?;
        Ok(v.iter()
            .filter_map(|s| serde_json::from_str(s).ok())
            .collect())
    }

    /// Fires one (entry, fire time) or moves the cursor, fenced by the lease token.
    pub async fn beat_fire(&self, f: &Fire<'_>, now: u64) -> Result<Fired> {
        let (queue, id, json, unique) = match (f.fire_ms, f.envelope) {
            (Some(_), Some(e)) => (
                e.queue.as_str(),
                e.id.as_str(),
                e.to_json(),
                e.unique_key.as_deref(),
            ),
            (Some(_), None) => {
                return Err(super::Error::Invalid("beat fire without a task".into()))
            }
            (None, _) => ("default", "", String::new(), None),
        };
        let q = QueueKeys::new(queue);
        let ukey = q.unique(unique.unwrap_or(""));
        let mut c = self.conn();
        let v: Vec<redis::Value> = BEAT_FIRE
            .key(keys::beat_leader())
            .key(keys::beat_entry(f.entry))
            .key(keys::beat_fired(f.entry, f.fire_ms.unwrap_or(0)))
            .key(keys::beat_history(f.entry))
            .key(&q.pending)
            .key(ukey)
            .key(keys::queues())
            .key(&q.history)
            .arg(f.holder)
            .arg(f.token.to_string())
            .arg(now)
            .arg(f.fire_ms.unwrap_or(0))
            .arg(f.next_ms)
            .arg(f.schedule)
            .arg(f.fired_ttl.as_millis().max(1) as u64)
            .arg(f.history.max(1))
            .arg(id)
            .arg(json)
            .arg(if unique.is_some() { "1" } else { "0" })
            .arg(queue)
            .arg(if f.late { "1" } else { "0" })
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        self.replicated(&mut c).await?;
        let status: i64 = v
            .first()
            .map(redis::from_redis_value)
            .transpose()
            .map_err(|e| self.err(e))?
            .unwrap_or(-1);
        let id: String = v
            .get(1)
            .map(redis::from_redis_value)
            .transpose()
            .map_err(|e| self.err(e))?
            .unwrap_or_default();
        Ok(match status {
            0 => Fired::Already(id),
            1 => Fired::Enqueued(Enqueued::New(id)),
            2 => Fired::Enqueued(Enqueued::Duplicate(id)),
            3 => Fired::CursorSet,
            _ => Fired::NotLeader,
        })
    }

    /// How task `id` ended, from the outcome message the worker leaves for submitters
    /// that asked (`Envelope::notify`): Some("done"), Some("failed"), or None (not yet).
    pub async fn task_outcome(&self, id: &str) -> Result<Option<&'static str>> {
        let mut c = self.conn();
        let v: Option<String> = c
            .lindex(keys::notify(id), 0)
            .await
            .map_err(|e| self.err(e))?;
        Ok(
            v.and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                .and_then(|j| match j.get("state").and_then(|s| s.as_str()) {
                    Some("done") => Some("done"),
                    Some(_) => Some("failed"),
                    None => None,
                }),
        )
    }

    /// Records the outcome of an entry's last task (once per task).
    pub async fn beat_outcome(&self, entry: &str, id: &str, outcome: &str) -> Result<bool> {
        let mut c = self.conn();
        let r: i64 = BEAT_OUTCOME
            .key(keys::beat_entry(entry))
            .arg(id)
            .arg(outcome)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(r == 1)
    }
}
