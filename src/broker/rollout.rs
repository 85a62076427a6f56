//! Read-only views for the rollout gates: worker heartbeats, raw queue stats and when
//! ciq first saw each pending test (the beat's own reads are in `beat.rs`). None writes.

use super::{keys, Broker, QueueKeys, Result};
use redis::AsyncCommands;
use std::collections::BTreeMap;

impl Broker {
    /// Every registered worker with its last heartbeat (ms), newest first; removes nothing.
    pub async fn worker_heartbeats(&self) -> Result<Vec<(String, u64)>> {
        let mut c = self.conn();
        c.zrevrange_withscores(keys::workers_seen(), 0, -1)
            .await
            .map_err(|e| self.err(e))
    }

    /// Raw per-queue stats fields (including `last_done:<task>` / `last_failed:<task>`).
    pub async fn stats_raw(&self, queue: &str) -> Result<BTreeMap<String, String>> {
        let mut c = self.conn();
        c.hgetall(QueueKeys::new(queue).stats)
            .await
            .map_err(|e| self.err(e))
    }

    /// Pending tests: test id -> when ciq first saw it pending (ms).
    pub async fn platform_first_seen(&self) -> Result<BTreeMap<String, String>> {
        let mut c = self.conn();
        c.hgetall(keys::platform_first_seen())
            .await
            .map_err(|e| self.err(e))
    }
}
