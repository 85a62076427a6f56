//! What a worker knows is wrong with its access to Redis: checked once at start (a
//! worker Redis will not let work exits with one line instead of retrying forever), and
//! while running kept in its heartbeat so `ciq status` shows it.

use crate::broker::{self, Broker, QueueKeys};
use std::sync::Mutex;

#[derive(Default)]
pub(crate) struct Health {
    problem: Mutex<Option<String>>,
}

impl Health {
    /// Records an access error (ACL, login) and logs it once per change; other errors
    /// (Redis down, a timeout) are transient and left to the caller's retry.
    pub fn note(&self, e: &broker::Error) {
        if !e.is_access() {
            return;
        }
        let msg = e.to_string();
        let mut p = self.problem.lock().unwrap();
        if p.as_deref() != Some(msg.as_str()) {
            tracing::error!(error = %msg, "Redis refuses this worker's commands; it cannot take tasks until that is fixed");
            *p = Some(msg);
        }
    }

    /// A command went through: whatever was wrong has been fixed.
    pub fn clear(&self) {
        let mut p = self.problem.lock().unwrap();
        if p.take().is_some() {
            tracing::info!("Redis accepts this worker's commands again");
        }
    }

    pub fn current(&self) -> Option<String> {
        self.problem.lock().unwrap().clone()
    }
}

/// Runs once before the worker starts: the commands it needs (a script on its first
/// queue) must be allowed, and Redis's memory settings are logged when they endanger
/// tasks. An access error is returned (the worker exits); others are left to the loops.
pub(crate) async fn preflight(
    broker: &Broker,
    queues: &[std::sync::Arc<QueueKeys>],
) -> broker::Result<()> {
    if let Some(q) = queues.first() {
        match broker.promote(q).await {
            Err(e) if e.is_access() => return Err(e),
            Err(e) => tracing::warn!(error = %e, "start-up check failed; continuing"),
            Ok(_) => {}
        }
    }
    match broker.server_info().await {
        Ok(info) => {
            if let Some(why) = info.replicas_beyond_min(broker.min_replicas()) {
                tracing::error!(replicas = info.connected_replicas, "{why}");
            }
            if info.evicting() {
                tracing::error!(policy = %info.maxmemory_policy, "Redis may evict keys (maxmemory-policy {}): queued tasks can be deleted without a trace; set maxmemory-policy noeviction", info.maxmemory_policy);
            }
            if info.out_of_memory() {
                tracing::error!(used = info.used_memory, maxmemory = info.maxmemory, "Redis is out of memory: outcomes and heartbeats cannot be written until memory is freed");
            } else if let Some(r) = info.memory_used_ratio().filter(|r| *r >= 0.9) {
                tracing::warn!(
                    used = info.used_memory,
                    maxmemory = info.maxmemory,
                    "Redis memory is at {:.0}% of maxmemory",
                    r * 100.0
                );
            }
        }
        Err(e) if e.is_access() && !matches!(e, broker::Error::Permission { .. }) => return Err(e),
        // An ACL user without INFO (@dangerous) may still work; the check is skipped.
        Err(_) => {}
    }
    Ok(())
}
