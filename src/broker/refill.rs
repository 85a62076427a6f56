//! One script call for a batch's outcomes and the claim that refills the slots they
//! free (issue 20): `finish_claim.lua` runs `finish.lua`'s and `claim.lua`'s functions
//! on one reading of the Redis clock, so at `--concurrency 1` a task costs one round
//! trip and one EVALSHA, not two.

use super::claim::{push_claim, Claim};
use super::finish::{
    applied, finish_arg_count, push_finish_args, push_finish_keys, Applied, Outcomes,
};
use super::scripts::FINISH_CLAIM;
use super::{Broker, QueueKeys, Result};
use std::time::Duration;

impl Broker {
    /// Records the outcomes and claims up to `n` tasks of `claim_q` in one script call
    /// (the claim after the outcomes). `claim_q` is the outcomes' own queue, or any queue
    /// where one script may span queues (not on Redis Cluster: see
    /// `one_script_spans_queues`). If the outcomes are refused as a whole (an undeclared
    /// unique key) nothing is claimed and the call fails.
    pub async fn finish_and_claim(
        &self,
        o: Outcomes<'_>,
        claim_q: &QueueKeys,
        n: usize,
        lease: Duration,
    ) -> Result<(Vec<Applied>, Claim)> {
        let worker = o.worker;
        let mut c = self.conn();
        let mut inv = FINISH_CLAIM.prepare_invoke();
        // Keys and arguments are separate lists: finish's keys go first, then the counts
        // lead the arguments.
        let nk = push_finish_keys(&mut inv, &o);
        inv.arg(nk).arg(finish_arg_count(o.items.len()));
        push_finish_args(&mut inv, &o);
        push_claim(&mut inv, claim_q, worker, n, lease);
        let (res, v): (Vec<i64>, redis::Value) =
            inv.invoke_async(&mut c).await.map_err(|e| self.err(e))?;
        // With `min_replicas`: the outcomes and the claim are on a replica before the
        // claimed runs start, also when the claim took nothing (the outcomes still need
        // their WAIT); an unconfirmed claim is given back (see `confirm_claim`).
        let claim = self.claim_reply(v)?;
        self.confirm_claim(&mut c, claim_q, worker, &claim).await?;
        Ok((applied(res), claim))
    }
}
