//! The claim and finish script calls as values, and one round trip for both (issue 20):
//! a worker records a batch's outcomes and claims the tasks that refill the slots they
//! free in one pipeline, so at `--concurrency 1` a task costs one round trip, not two.

use super::ops::{Applied, Claim, Finish, HistoryLimits};
use super::scripts::{CLAIM, FINISH};
use super::{Broker, QueueKeys, Result};
use std::time::Duration;

impl Broker {
    /// Records `items` and claims up to `n` tasks of the same queue in one pipeline (the
    /// claim after the outcomes). Both scripts must be loaded already (the caller has
    /// used `finish` and `claim` on this Redis): NOSCRIPT fails the call, and since a
    /// Redis that lost one script lost both (restart, failover, flush), nothing was
    /// applied then; the caller falls back to `finish`, which reloads.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_and_claim(
        &self,
        q: &QueueKeys,
        worker: &str,
        items: &[Finish],
        dead_max: u64,
        hist: HistoryLimits,
        n: usize,
        lease: Duration,
    ) -> Result<(Vec<Applied>, Claim)> {
        let mut c = self.conn();
        let (res, v): (Vec<i64>, redis::Value) = redis::pipe()
            .invoke_script(&finish_call(q, worker, items, dead_max, hist))
            .invoke_script(&claim_call(q, worker, n, lease))
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        // With `min_replicas`: the outcomes and the claim are on a replica before the
        // claimed runs start; an unconfirmed claim is given back (see `confirm_claim`).
        let claim = self.claim_reply(v)?;
        self.confirm_claim(&mut c, q, worker, &claim).await?;
        Ok((applied(res), claim))
    }
}

/// The `claim.lua` call that leases up to `n` tasks of `q` to `worker`.
pub(crate) fn claim_call(
    q: &QueueKeys,
    worker: &str,
    n: usize,
    lease: Duration,
) -> redis::ScriptInvocation<'static> {
    let mut inv = CLAIM.key(&q.pending);
    inv.key(&q.lease)
        .key(&q.active)
        .key(&q.data)
        .key(&q.paused)
        .key(&q.dead)
        .key(&q.stats)
        .key(&q.claims)
        .arg(lease.as_millis() as u64)
        .arg(worker)
        .arg(n)
        .arg(&q.name);
    inv
}

/// The `finish.lua` call that records `items` (outcomes of `worker`'s runs on `q`).
pub(crate) fn finish_call(
    q: &QueueKeys,
    worker: &str,
    items: &[Finish],
    dead_max: u64,
    hist: HistoryLimits,
) -> redis::ScriptInvocation<'static> {
    let mut inv = FINISH.key(&q.lease);
    inv.key(&q.active)
        .key(&q.data)
        .key(&q.pending)
        .key(&q.retry)
        .key(&q.dead)
        .key(&q.stats)
        .key(&q.superseded)
        .key(&q.history)
        .key(&q.history_ended);
    let mut uniques: Vec<String> = items
        .iter()
        .filter_map(|f| f.unique_key.as_deref().map(|u| q.unique(u)))
        .collect();
    uniques.sort_unstable();
    uniques.dedup();
    for k in &uniques {
        inv.key(k);
    }
    inv.arg(worker)
        .arg(q.unique_prefix())
        .arg(dead_max)
        .arg(hist.retention_ms)
        .arg(hist.max);
    for f in items {
        inv.arg(&f.id)
            .arg(f.token)
            .arg(f.kind.as_str())
            .arg(&f.envelope)
            .arg(f.delay_ms)
            .arg(f.unique_key.as_deref().unwrap_or(""))
            .arg(&f.task)
            .arg(f.attempt);
    }
    inv
}

/// `finish.lua`'s reply, per item.
pub(crate) fn applied(res: Vec<i64>) -> Vec<Applied> {
    res.into_iter()
        .map(|r| match r {
            1 => Applied::Yes,
            2 => Applied::Already,
            _ => Applied::Superseded,
        })
        .collect()
}
