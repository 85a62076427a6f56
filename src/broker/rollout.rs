//! Read-only views for the rollout gates: worker heartbeats, the beat leader and its
//! entries, and when ciq first saw each pending test. None of them writes.

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

    /// The beat leader record (JSON `{"holder","since_ms","token"}`), if a leader holds it.
    pub async fn beat_leader(&self) -> Result<Option<String>> {
        let mut c = self.conn();
        c.get(keys::beat("leader")).await.map_err(|e| self.err(e))
    }

    /// The beat's record of one schedule entry (last_fire_ms, last_outcome, …).
    pub async fn beat_entry(&self, name: &str) -> Result<BTreeMap<String, String>> {
        let mut c = self.conn();
        c.hgetall(keys::beat(&format!("entry:{name}")))
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
