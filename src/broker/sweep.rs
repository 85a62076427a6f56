//! Sweeping: runs whose lease expired (a worker died or stalled) go back to pending, or
//! to dead after too many deliveries.

use super::history::ActiveEntry;
use super::scripts::SWEEP;
use super::{Broker, Envelope, QueueKeys, Result};
use redis::AsyncCommands;
use std::time::Duration;

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

impl Broker {
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
                .map(|cur| ActiveEntry::parse(cur).envelope),
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
}
