//! Acknowledged writes: with `[broker] min_replicas = N`, an enqueue or an outcome is
//! reported as done only after `WAIT N timeout` says N replicas have it. The WAIT goes
//! on the same connection as the write (WAIT covers that connection's earlier writes).
//! Pair it with Redis's own `min-replicas-to-write N` so a master cut off from its
//! replicas refuses writes instead of accepting ones a failover would drop.

use super::sentinel::SentinelAuth;
use super::{Broker, Conn, Error, Result};
use std::time::Duration;

/// How the broker connects and how durable a write must be before it counts.
#[derive(Clone)]
pub struct BrokerOptions {
    /// Replicas that must confirm each enqueue and outcome write (0 = do not wait).
    pub min_replicas: u32,
    /// How long to wait for them before reporting the write as not acknowledged.
    pub min_replicas_timeout: Duration,
    /// Credentials for the sentinels of a `redis+sentinel://` broker.
    pub sentinel: SentinelAuth,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions {
            min_replicas: 0,
            min_replicas_timeout: Duration::from_secs(1),
            sentinel: SentinelAuth::default(),
        }
    }
}

impl std::fmt::Debug for BrokerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerOptions")
            .field("min_replicas", &self.min_replicas)
            .field("min_replicas_timeout", &self.min_replicas_timeout)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// Waits until `min_replicas` replicas have every write made so far on `c`.
    pub(crate) async fn replicated(&self, c: &mut Conn) -> Result<()> {
        let want = self.opts.min_replicas;
        if want == 0 {
            return Ok(());
        }
        let timeout = self.opts.min_replicas_timeout;
        let got: i64 = redis::cmd("WAIT")
            .arg(want)
            .arg(timeout.as_millis().max(1) as u64)
            .query_async(c)
            .await
            .map_err(|e| self.err(e))?;
        if got < want as i64 {
            self.suspect_master();
            return Err(Error::NotReplicated {
                wanted: want,
                got: got.max(0) as u32,
                timeout,
            });
        }
        Ok(())
    }
}
