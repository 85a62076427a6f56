//! The runs in progress in a queue: each active entry with the lease it is under. A
//! lease is its worker's (`leases`, one member per worker); a run of a worker from
//! before per-worker leases has its own (`lease`, one member per task id).

use super::history::ActiveEntry;
use super::{Broker, Conn, QueueKeys, Result};
use std::collections::HashMap;

/// One active entry and when its lease expires (ms, Redis's clock; 0 when it has none).
#[derive(Debug, Clone)]
pub(crate) struct Running {
    pub id: String,
    /// "<worker>|<token>|<claimed ms>|<envelope>" (see `ActiveEntry`).
    pub entry: String,
    pub lease_expires_ms: u64,
}

/// Lease expiries by member: worker ids and (older leases) task ids.
pub(crate) type Expiries = HashMap<String, f64>;

/// One lease set as read: (member, expiry ms).
pub(crate) type LeaseSet = Vec<(String, f64)>;

/// The lease a run is under: its worker's, else one of its own (`id`'s).
pub(crate) fn lease_of(expiries: &Expiries, id: &str, run: &ActiveEntry) -> Option<f64> {
    expiries
        .get(run.worker)
        .or_else(|| expiries.get(id))
        .copied()
}

/// Both lease sets of `q` with their expiries, soonest first, members 0..=`stop` of
/// each (-1: all), onto `p`: two replies.
pub(crate) fn lease_sets(p: &mut redis::Pipeline, q: &QueueKeys, stop: isize) {
    p.zrange_withscores(&q.leases, 0, stop)
        .zrange_withscores(&q.lease, 0, stop);
}

impl Broker {
    /// Every run in progress in `q`, longest running first (claim time, then token).
    /// One round trip; reads as many entries as there are runs.
    pub(crate) async fn running(&self, c: &mut Conn, q: &QueueKeys) -> Result<Vec<Running>> {
        let mut p = redis::pipe();
        p.hgetall(&q.active);
        lease_sets(&mut p, q, -1);
        let (active, workers, own): (Vec<(String, String)>, LeaseSet, LeaseSet) =
            p.query_async(c).await.map_err(|e| self.err(e))?;
        let expiries: Expiries = workers.into_iter().chain(own).collect();
        let mut runs: Vec<((u64, Option<u64>), Running)> = active
            .into_iter()
            .map(|(id, entry)| {
                let run = ActiveEntry::parse(&entry);
                let order = (run.claimed_ms, run.token);
                let lease_expires_ms = lease_of(&expiries, &id, &run).unwrap_or(0.0) as u64;
                (
                    order,
                    Running {
                        id,
                        entry,
                        lease_expires_ms,
                    },
                )
            })
            .collect();
        runs.sort_unstable_by(|(a, ra), (b, rb)| a.cmp(b).then_with(|| ra.id.cmp(&rb.id)));
        Ok(runs.into_iter().map(|(_, r)| r).collect())
    }
}
