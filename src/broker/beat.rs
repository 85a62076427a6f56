//! Beat state in Redis: the leader lease with its fencing token, the per-entry cursor
//! and last-run record, the bounded fire history, and the fire: a fenced claim in beat's
//! slot, an idempotent enqueue in the queue's slot, then a settle step (three scripts,
//! each in one slot, so it works on Redis Cluster; see `beat_claim.lua`).

use super::enqueue::Enqueued;
use super::scripts::{BEAT_CLAIM, BEAT_LEASE, BEAT_OUTCOME, BEAT_RELEASE, BEAT_SETTLE};
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

/// The lease as stored (`ciq:{beat}:leader`), plus how long it has left.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaderInfo {
    pub holder: String,
    pub since_ms: u64,
    pub token: u64,
    #[serde(default)]
    pub ttl_ms: u64,
}

/// One entry's record (`ciq:{beat}:entry:<name>`); fields absent until first written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryState {
    pub last_fire_ms: Option<u64>,
    pub next_fire_ms: Option<u64>,
    pub last_task_id: Option<String>,
    pub last_outcome: Option<String>,
    pub consecutive_failures: u64,
    pub schedule: Option<String>,
    /// A fire claimed but not yet settled (JSON, see `beat_claim.lua`): its task may not
    /// be in its queue yet; `beat_settle_pending` completes it.
    pub pending_fire: Option<String>,
}

/// A claimed fire as `beat_claim.lua` stores it in `pending_fire`.
#[derive(Debug, Deserialize)]
struct PendingFire {
    id: String,
    fire_ms: u64,
    ttl_ms: u64,
    envelope: Envelope,
}

/// One line of `ciq:{beat}:history:<entry>`.
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

    /// The raw value of the beat leader key (JSON written by `ciq beat`), if any.
    pub async fn beat_leader_raw(&self) -> Result<Option<String>> {
        let mut c = self.conn();
        c.get(keys::beat("leader")).await.map_err(|e| self.err(e))
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
            pending_fire: m.get("pending_fire").cloned(),
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

    /// Fires one (entry, fire time) or moves the cursor, fenced by the lease token: claim
    /// the fire time in beat's slot, enqueue the task idempotently in its queue's slot,
    /// settle. A crash or lost reply between the steps leaves the claim pending, and the
    /// next attempt (this beat or another) completes it without a second task.
    pub async fn beat_fire(&self, f: &Fire<'_>, now: u64) -> Result<Fired> {
        let (env, json) = match (f.fire_ms, f.envelope) {
            (Some(_), Some(e)) => (Some(e), e.to_json()),
            (Some(_), None) => {
                return Err(super::Error::Invalid("beat fire without a task".into()))
            }
            (None, _) => (None, String::new()),
        };
        let mut c = self.conn();
        // At most one earlier pending fire to settle first (the claim refuses to stack).
        for _ in 0..2 {
            let v: Vec<redis::Value> = BEAT_CLAIM
                .key(keys::beat_leader())
                .key(keys::beat_entry(f.entry))
                .key(keys::beat_fired(f.entry, f.fire_ms.unwrap_or(0)))
                .arg(f.holder)
                .arg(f.token.to_string())
                .arg(now)
                .arg(f.fire_ms.unwrap_or(0))
                .arg(f.next_ms)
                .arg(f.schedule)
                .arg(f.fired_ttl.as_millis().max(1) as u64)
                .arg(env.map(|e| e.id.as_str()).unwrap_or(""))
                .arg(&json)
                .arg(if f.late { "1" } else { "0" })
                .invoke_async(&mut c)
                .await
                .map_err(|e| self.err(e))?;
            let status: i64 = v
                .first()
                .map(redis::from_redis_value)
                .transpose()
                .map_err(|e| self.err(e))?
                .unwrap_or(-1);
            let text: String = v
                .get(1)
                .map(redis::from_redis_value)
                .transpose()
                .map_err(|e| self.err(e))?
                .unwrap_or_default();
            match (status, env) {
                (0, _) => return Ok(Fired::Already(text)),
                (1, Some(e)) => {
                    let r = self
                        .settle_fire(
                            &mut c,
                            f.entry,
                            e,
                            f.fire_ms.unwrap_or(0),
                            f.fired_ttl,
                            f.history,
                        )
                        .await?;
                    self.replicated(&mut c).await?;
                    return Ok(Fired::Enqueued(r));
                }
                (3, _) => {
                    self.replicated(&mut c).await?;
                    return Ok(Fired::CursorSet);
                }
                (4, _) => {
                    self.beat_settle_pending(f.entry, &text, f.history).await?;
                }
                _ => return Ok(Fired::NotLeader),
            }
        }
        Err(super::Error::Invalid(format!(
            "beat entry {}: a claimed fire stays pending after settling it",
            f.entry
        )))
    }

    /// Completes a claimed fire left pending (`EntryState::pending_fire`): enqueues its
    /// task (idempotent: nothing is added if it is already in its queue) and settles it.
    pub async fn beat_settle_pending(
        &self,
        entry: &str,
        pending_json: &str,
        history: usize,
    ) -> Result<Enqueued> {
        let p: PendingFire = serde_json::from_str(pending_json).map_err(|e| {
            super::Error::Invalid(format!("beat entry {entry}: unreadable pending fire: {e}"))
        })?;
        let mut env = p.envelope;
        env.id = p.id;
        let mut c = self.conn();
        let r = self
            .settle_fire(
                &mut c,
                entry,
                &env,
                p.fire_ms,
                Duration::from_millis(p.ttl_ms),
                history,
            )
            .await?;
        self.replicated(&mut c).await?;
        tracing::info!(entry, task_id = %r.id(), "completed a fire left pending (crash or lost reply)");
        Ok(r)
    }

    async fn settle_fire(
        &self,
        c: &mut super::Conn,
        entry: &str,
        env: &Envelope,
        fire_ms: u64,
        ttl: Duration,
        history: usize,
    ) -> Result<Enqueued> {
        let q = QueueKeys::new(&env.queue);
        let idem = q.fired(entry, fire_ms);
        let r = self
            .enqueue_script(c, env, 0, 0, Some((&idem, ttl)))
            .await?;
        let (ok, id) = match &r {
            Enqueued::New(id) => ("1", id),
            Enqueued::Duplicate(id) => ("0", id),
        };
        let _: i64 = BEAT_SETTLE
            .key(keys::beat_entry(entry))
            .key(keys::beat_history(entry))
            .arg(&env.id)
            .arg(ok)
            .arg(id)
            .arg(history.max(1))
            .invoke_async(c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(r)
    }

    /// The lease of a beat of an older ciq version (keys without the `{beat}` tag), if
    /// one is alive: a newer beat must not lead beside it.
    pub async fn legacy_beat_leader(&self) -> Result<Option<String>> {
        let mut c = self.conn();
        c.get(keys::legacy_beat("leader"))
            .await
            .map_err(|e| self.err(e))
    }

    /// Moves an older version's per-entry state (cursor, last run, fire history) to the
    /// `{beat}` keys, for entries that have none there yet, so an upgrade neither re-fires
    /// nor forgets a tick; then deletes the old keys. Returns the entries adopted.
    pub async fn adopt_legacy_beat_state(&self, entries: &[&str]) -> Result<usize> {
        let mut c = self.conn();
        let mut adopted = 0;
        for e in entries {
            let (old, new) = (
                keys::legacy_beat(&format!("entry:{e}")),
                keys::beat_entry(e),
            );
            let state: Vec<(String, String)> = c.hgetall(&old).await.map_err(|e| self.err(e))?;
            if state.is_empty() {
                continue;
            }
            let taken: bool = c.exists(&new).await.map_err(|e| self.err(e))?;
            if !taken {
                c.hset_multiple::<_, _, _, ()>(&new, &state)
                    .await
                    .map_err(|e| self.err(e))?;
                let old_h = keys::legacy_beat(&format!("history:{e}"));
                let lines: Vec<String> = c.lrange(&old_h, 0, -1).await.map_err(|e| self.err(e))?;
                if !lines.is_empty() {
                    c.rpush::<_, _, ()>(keys::beat_history(e), lines)
                        .await
                        .map_err(|e| self.err(e))?;
                }
                c.del::<_, ()>(&old_h).await.map_err(|e| self.err(e))?;
                adopted += 1;
            }
            c.del::<_, ()>(&old).await.map_err(|e| self.err(e))?;
        }
        for k in ["token", "beats"] {
            c.del::<_, ()>(keys::legacy_beat(k))
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(adopted)
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
