//! Queue upkeep shared by a fleet: one worker per queue at a time holds a short lease
//! and does that queue's promotion and sweeping, so their cost stays flat however many
//! workers serve the queue. The others only try to take the lease now and then.

use super::scripts::{UPKEEP_RELEASE, UPKEEP_RENEW};
use super::{Broker, QueueKeys, Result};
use std::time::Duration;

impl Broker {
    /// Takes the queue's upkeep lease if nobody holds it (`SET NX PX`: one command).
    pub async fn upkeep_take(&self, q: &QueueKeys, worker: &str, lease: Duration) -> Result<bool> {
        let mut c = self.conn();
        let r: Option<String> = redis::cmd("SET")
            .arg(&q.upkeep)
            .arg(worker)
            .arg("NX")
            .arg("PX")
            .arg(lease.as_millis().max(1) as u64)
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(r.is_some())
    }

    /// Extends the lease if `worker` still holds it.
    pub async fn upkeep_renew(&self, q: &QueueKeys, worker: &str, lease: Duration) -> Result<bool> {
        let mut c = self.conn();
        let r: i64 = UPKEEP_RENEW
            .key(&q.upkeep)
            .arg(worker)
            .arg(lease.as_millis().max(1) as u64)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(r == 1)
    }

    /// Hands the lease back (a stopping worker), so another takes over at once.
    pub async fn upkeep_release(&self, q: &QueueKeys, worker: &str) -> Result<()> {
        let mut c = self.conn();
        UPKEEP_RELEASE
            .key(&q.upkeep)
            .arg(worker)
            .invoke_async::<i64>(&mut c)
            .await
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}
