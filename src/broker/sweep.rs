//! Sweeping: runs whose lease expired (a worker died or stalled) go back to pending, or
//! to dead after too many deliveries.

use super::history::ActiveEntry;
use super::running::{lease_of, lease_sets, Expiries, LeaseSet};
use super::scripts::{HISTORY_MOVE, SWEEP};
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
    /// Recovers the runs under expired leases; returns (recovered, dead). First reads
    /// which leases (workers', and older per-task ones) are expiring by the Redis
    /// server's clock, and the unique keys of their runs, so the script declares every key
    /// it may touch; nothing expiring: one round trip, no script.
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
        let mut p = redis::pipe();
        p.cmd("TIME");
        lease_sets(&mut p, q, MAX - 1);
        p.exists(&q.history_ended);
        let ((secs, micros), workers, own, older_index): ((u64, u64), LeaseSet, LeaseSet, bool) =
            p.query_async(&mut c).await.map_err(|e| self.err(e))?;
        if older_index {
            // The trim index from before the end list: moved over, a slice per sweep.
            let _: u64 = HISTORY_MOVE
                .key(&q.history_ended)
                .key(&q.history_ends)
                .invoke_async(&mut c)
                .await
                .map_err(|e| self.err(e))?;
        }
        // A second's slack: the script decides by the server's clock when it runs.
        let now = (secs * 1000 + micros / 1000 + 1000).saturating_sub(overdue.as_millis() as u64);
        let expiring: Expiries = workers
            .into_iter()
            .chain(own)
            .filter(|(_, at)| *at <= now as f64)
            .collect();
        if expiring.is_empty() {
            return Ok((0, 0));
        }
        // The runs under those leases (read once some lease is expiring: as many entries
        // as are running), for their unique keys.
        let active: Vec<(String, String)> = c.hgetall(&q.active).await.map_err(|e| self.err(e))?;
        let uniques = unique_keys(
            q,
            active
                .iter()
                .map(|(id, cur)| (id, ActiveEntry::parse(cur)))
                .filter(|(id, run)| lease_of(&expiring, id, run).is_some())
                .map(|(_, run)| run.envelope),
        );
        let mut inv = SWEEP.key(&q.leases);
        inv.key(&q.active)
            .key(&q.data)
            .key(&q.pending)
            .key(&q.dead)
            .key(&q.stats)
            .key(&q.superseded)
            .key(&q.history)
            .key(&q.history_ends)
            .key(&q.lease);
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
