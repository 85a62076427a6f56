//! The leader lease from one beat's point of view: take or renew it every tick, log
//! changes of hands once, give it up at shutdown.
//!
//! Holding the lease is only advisory here; what makes a stale leader harmless is that
//! every fire re-checks holder and fencing token inside the fire script.

use crate::broker::{self, Broker};
use std::time::Duration;

pub(crate) struct Leader {
    pub id: String,
    lease: Duration,
    /// Our fencing token while we believe we lead.
    token: Option<u64>,
    /// The other holder we last reported, so standby logs once per change.
    seen: Option<String>,
}

impl Leader {
    pub fn new(id: String, lease: Duration) -> Self {
        Leader {
            id,
            lease,
            token: None,
            seen: None,
        }
    }

    /// Takes or renews the lease; Some(token) when this beat leads now, and the Redis
    /// server's clock (ms) at that moment.
    pub async fn ensure(&mut self, broker: &Broker) -> broker::Result<(Option<u64>, u64)> {
        let l = broker.beat_lease(&self.id, self.lease).await?;
        let now = l.now_ms;
        if l.ours {
            if self.token != Some(l.token) {
                tracing::info!(beat = %self.id, token = l.token, "beat leads: holding the lease");
            }
            self.token = Some(l.token);
            self.seen = None;
            return Ok((Some(l.token), now));
        }
        if self.token.take().is_some() {
            tracing::warn!(beat = %self.id, holder = %l.holder, "lease lost; standing by");
        }
        if self.seen.as_deref() != Some(l.holder.as_str()) {
            tracing::info!(beat = %self.id, holder = %l.holder, since = %crate::output::ts(l.since_ms), "standby: another beat holds the lease");
            self.seen = Some(l.holder);
        }
        Ok((None, now))
    }

    /// The fire script said we are not the leader (the lease lapsed or moved).
    pub fn lost(&mut self) {
        if self.token.take().is_some() {
            tracing::warn!(beat = %self.id, "lease lapsed before a fire; not firing");
        }
    }

    /// Gives the lease up at once so a standby takes over without waiting for expiry,
    /// and leaves the list of running beats (a standby only does the latter: token 0
    /// matches no lease).
    pub async fn release(&mut self, broker: &Broker) {
        let token = self.token.take().unwrap_or(0);
        match broker.beat_release(&self.id, token).await {
            Ok(true) => tracing::info!(beat = %self.id, "lease released"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(beat = %self.id, error = %e, "could not release the lease; it expires on its own")
            }
        }
    }
}
