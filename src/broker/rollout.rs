//! Read-only views for the rollout gates: worker heartbeats and raw queue stats (the
//! beat's and the platform's own reads are in `beat.rs` and `platform.rs`). None writes.

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

    /// Every registered worker's info JSON (as its last heartbeat wrote it) with that
    /// heartbeat's time (ms), newest first; removes nothing.
    pub async fn worker_infos(&self) -> Result<Vec<(String, u64)>> {
        let seen = self.worker_heartbeats().await?;
        if seen.is_empty() {
            return Ok(vec![]);
        }
        let mut c = self.conn();
        let ids: Vec<&str> = seen.iter().map(|(id, _)| id.as_str()).collect();
        let infos: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(keys::workers())
            .arg(&ids)
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(seen
            .iter()
            .zip(infos)
            .filter_map(|((_, at), info)| Some((info?, *at)))
            .collect())
    }

    /// Raw per-queue stats fields (including `last_done:<task>` / `last_failed:<task>`).
    pub async fn stats_raw(&self, queue: &str) -> Result<BTreeMap<String, String>> {
        let mut c = self.conn();
        c.hgetall(QueueKeys::new(queue).stats)
            .await
            .map_err(|e| self.err(e))
    }
}
