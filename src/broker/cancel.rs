//! Canceling one task (`ciq cancel`, the web's cancel action): reads where the task is
//! and which unique key it holds, then `cancel.lua` makes the change atomically.

use super::history::ActiveEntry;
use super::outcome::{Ended, TaskOutcome};
use super::scripts::CANCEL;
use super::{Broker, Envelope, QueueKeys, Result};

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canceled {
    /// Canceled; it was pending, scheduled, retry or active.
    From(String),
    /// Running, and `terminate` was not asked for: nothing changed.
    Running,
    /// Already dead: nothing to cancel (requeue or purge it instead).
    Dead,
    /// No live task with this id in the queue (done, canceled, purged, or unknown).
    NotLive,
}

impl Broker {
    /// Cancels task `id` of `queue`; a running one only when `terminate`. `by` is
    /// recorded in the history ("ciq cancel", "ciq web").
    pub async fn cancel(
        &self,
        queue: &str,
        id: &str,
        terminate: bool,
        by: &str,
    ) -> Result<Canceled> {
        let q = QueueKeys::new(queue);
        // A task can move while we read (claimed, promoted): read again a few times.
        for _ in 0..5 {
            let mut c = self.conn();
            let (active, data, dead): (Option<String>, Option<String>, Option<f64>) = redis::pipe()
                .hget(&q.active, id)
                .hget(&q.data, id)
                .zscore(&q.dead, id)
                .query_async(&mut c)
                .await
                .map_err(|e| self.err(e))?;
            if active.is_none() && dead.is_some() {
                return Ok(Canceled::Dead);
            }
            let (env, pending) = match (&active, &data) {
                (Some(cur), _) => (Some(ActiveEntry::parse(cur).envelope.to_string()), None),
                (None, Some(d)) => (Some(d.clone()), None),
                (None, None) => match self.find_pending(&q, id).await? {
                    Some(raw) => (Some(raw.clone()), Some(raw)),
                    None => (None, None),
                },
            };
            let unique = env
                .as_deref()
                .and_then(|e| Envelope::from_json(e).ok())
                .and_then(|e| e.unique_key);
            let unique_key = match &unique {
                Some(u) => q.unique(u),
                None => q.paused.clone(),
            };
            let (code, from): (i64, String) = CANCEL
                .key(&q.pending)
                .key(&q.scheduled)
                .key(&q.retry)
                .key(&q.data)
                .key(&q.lease)
                .key(&q.active)
                .key(&q.superseded)
                .key(&q.history)
                .key(&q.history_ends)
                .key(&q.stats)
                .key(unique_key)
                .arg(id)
                .arg(pending.as_deref().unwrap_or(""))
                .arg(if terminate { "1" } else { "0" })
                .arg(super::now_ms())
                .arg(by)
                .arg(unique.as_deref().unwrap_or(""))
                .invoke_async(&mut c)
                .await
                .map_err(|e| self.err(e))?;
            match code {
                1 => {
                    // A client in `enqueue --wait` hears of it (its waiting ends).
                    let note = TaskOutcome {
                        error: Some(format!("canceled by {by} (it was {from})")),
                        id: None,
                        result: None,
                        state: Ended::Canceled,
                    };
                    let _ = self.notify(id, &note).await;
                    return Ok(Canceled::From(from));
                }
                2 => return Ok(Canceled::Running),
                // Nothing was seen anywhere: not live. Something was seen but moved
                // (claimed, promoted, its key changed): look again.
                0 if active.is_none() && data.is_none() && pending.is_none() => {
                    return Ok(Canceled::NotLive)
                }
                _ => continue,
            }
        }
        Ok(Canceled::NotLive)
    }
}
