//! One round trip for a batch's outcomes and the claim that refills the slots they free
//! (issue 20), from the script calls `finish.rs` and `claim.rs` build: at
//! `--concurrency 1` a task costs one round trip, not two.

use super::claim::{claim_call, Claim};
use super::finish::{applied, finish_call, Applied, Finish, HistoryLimits};
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
        // claimed runs start, also when the claim took nothing (the outcomes still need
        // their WAIT); an unconfirmed claim is given back (see `confirm_claim`).
        let claim = self.claim_reply(v)?;
        self.confirm_claim(&mut c, q, worker, &claim).await?;
        Ok((applied(res), claim))
    }
}
