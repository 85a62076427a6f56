//! Claiming: pending tasks leased to a worker in one atomic step, each run with its
//! fencing token; the leases renewed while the runs go on; and an idle worker's wait
//! for a pending task (without taking it).

use super::scripts::{CLAIM, RENEW};
use super::{Broker, Error, QueueKeys, Result};
use std::time::Duration;

/// What `claim` found.
#[derive(Debug)]
pub enum Claim {
    Paused,
    /// Per run: its claim token and the raw envelope JSON, decoded by the worker (a bad
    /// one is dead-lettered there).
    Tasks(Vec<(u64, String)>),
}

/// What `renew` did.
#[derive(Debug)]
pub struct Renewal {
    /// Tokens of runs that were superseded (recovered elsewhere, or canceled).
    pub superseded: Vec<u64>,
    /// Why the new leases are not confirmed by `min_replicas` replicas (None: they are).
    pub unconfirmed: Option<Error>,
}

impl Broker {
    /// Takes up to `n` pending tasks and leases them to `worker` in one atomic step.
    pub async fn claim(
        &self,
        q: &QueueKeys,
        worker: &str,
        n: usize,
        lease: Duration,
    ) -> Result<Claim> {
        let mut c = self.conn();
        let v: redis::Value = claim_call(q, worker, n, lease)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        let claim = self.claim_reply(v)?;
        // A claim that took nothing wrote nothing: no WAIT for it.
        if matches!(&claim, Claim::Tasks(t) if !t.is_empty()) {
            self.confirm_claim(&mut c, q, worker, &claim).await?;
        }
        Ok(claim)
    }

    /// `claim.lua`'s reply: {-1}: paused; {}: nothing pending; else {first token,
    /// envelope, ...}, the runs' tokens counting up from the first.
    pub(crate) fn claim_reply(&self, v: redis::Value) -> Result<Claim> {
        let mut items: Vec<redis::Value> =
            redis::from_owned_redis_value(v).map_err(|e| self.err(e))?;
        if items.is_empty() {
            return Ok(Claim::Tasks(Vec::new()));
        }
        let envs = items.split_off(1);
        let first: i64 =
            redis::from_owned_redis_value(items.swap_remove(0)).map_err(|e| self.err(e))?;
        if first < 0 {
            return Ok(Claim::Paused);
        }
        let tasks = (first as u64..)
            .zip(envs)
            .map(|(token, e)| Ok((token, redis::from_owned_redis_value::<String>(e)?)))
            .collect::<redis::RedisResult<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(Claim::Tasks(tasks))
    }

    /// Waits until `min_replicas` replicas have every write made on `c` (a claim, and the
    /// outcomes sent before it in the same pipeline). A run starts only once its claim is
    /// on a replica: a failover cannot lose the claim and hand the task to a second
    /// worker. If that cannot be confirmed the claim is not used: its tasks are given
    /// back, as they were (late, never twice, no attempt spent).
    pub(crate) async fn confirm_claim(
        &self,
        c: &mut super::Conn,
        q: &QueueKeys,
        worker: &str,
        claim: &Claim,
    ) -> Result<()> {
        if let Err(e) = self.replicated(c).await {
            if let Claim::Tasks(tasks) = claim {
                self.release_unconfirmed(q, worker, tasks).await;
            }
            return Err(e);
        }
        Ok(())
    }

    /// Extends the lease of this worker's runs (task id, claim token): the worker's one
    /// lease in the queue, when any of them is still current. With
    /// `min_replicas` the new leases count only once a replica has them (WAIT, as after
    /// a claim or outcome): a failover would bring back the older lease otherwise.
    pub async fn renew(
        &self,
        q: &QueueKeys,
        worker: &str,
        runs: &[(String, u64)],
        lease: Duration,
    ) -> Result<Renewal> {
        let mut c = self.conn();
        let mut inv = RENEW.key(&q.leases);
        inv.key(&q.active)
            .key(&q.superseded)
            .arg(lease.as_millis() as u64)
            .arg(worker);
        for (id, token) in runs {
            inv.arg(id).arg(token);
        }
        let superseded = inv.invoke_async(&mut c).await.map_err(|e| self.err(e))?;
        let unconfirmed = self.replicated(&mut c).await.err();
        Ok(Renewal {
            superseded,
            unconfirmed,
        })
    }

    /// Blocks (on `conn`, a dedicated connection) until `q` has a pending task or the
    /// timeout passes, without taking the task: BLMOVE from the list's tail to its tail.
    pub async fn wait_pending(
        &self,
        conn: &mut super::Conn,
        q: &QueueKeys,
        timeout: Duration,
    ) -> Result<bool> {
        let v: Option<String> = redis::cmd("BLMOVE")
            .arg(&q.pending)
            .arg(&q.pending)
            .arg("RIGHT")
            .arg("RIGHT")
            .arg(timeout.as_secs_f64())
            .query_async(conn)
            .await
            .map_err(|e| self.err(e))?;
        Ok(v.is_some())
    }
}

/// The `claim.lua` call that leases up to `n` tasks of `q` to `worker`.
pub(crate) fn claim_call(
    q: &QueueKeys,
    worker: &str,
    n: usize,
    lease: Duration,
) -> redis::ScriptInvocation<'static> {
    let mut inv = CLAIM.prepare_invoke();
    push_claim(&mut inv, q, worker, n, lease);
    inv
}

/// `claim.lua`'s keys and arguments (see the script's header). As the second part of
/// `finish_claim.lua` its keys and arguments follow the outcomes', so both are pushed
/// together.
pub(crate) fn push_claim(
    inv: &mut redis::ScriptInvocation<'static>,
    q: &QueueKeys,
    worker: &str,
    n: usize,
    lease: Duration,
) {
    for k in [
        &q.pending, &q.leases, &q.active, &q.data, &q.paused, &q.dead, &q.stats, &q.claims,
    ] {
        inv.key(k);
    }
    inv.arg(lease.as_millis() as u64)
        .arg(worker)
        .arg(n)
        .arg(&q.name);
}
