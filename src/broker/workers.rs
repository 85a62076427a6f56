//! The worker registry: each worker's heartbeat and info, and who is alive.

use super::{keys, Broker, Result};
use redis::AsyncCommands;

impl Broker {
    /// Registers or refreshes a worker (heartbeat).
    pub async fn worker_heartbeat(&self, id: &str, info_json: &str, now: u64) -> Result<()> {
        // Two commands sent together, not a pipeline: on Redis Cluster the two registry
        // keys may live on different nodes.
        let (mut c1, mut c2) = (self.conn(), self.conn());
        let (a, b) = tokio::join!(
            c1.hset::<_, _, _, ()>(keys::workers(), id, info_json),
            c2.zadd::<_, _, _, ()>(keys::workers_seen(), id, now)
        );
        a.and(b).map_err(|e| self.err(e))
    }

    pub async fn worker_gone(&self, id: &str) -> Result<()> {
        let (mut c1, mut c2) = (self.conn(), self.conn());
        let (a, b) = tokio::join!(
            c1.hdel::<_, _, ()>(keys::workers(), id),
            c2.zrem::<_, _, ()>(keys::workers_seen(), id)
        );
        a.and(b).map_err(|e| self.err(e))
    }

    /// Workers with their info JSON and last heartbeat (ms); drops entries older than `forget_ms`.
    pub async fn workers(&self, now: u64, forget_ms: u64) -> Result<Vec<(String, String, u64)>> {
        let mut c = self.conn();
        let stale: Vec<String> = c
            .zrangebyscore(keys::workers_seen(), 0, now.saturating_sub(forget_ms))
            .await
            .map_err(|e| self.err(e))?;
        for id in &stale {
            self.worker_gone(id).await?;
        }
        let seen: Vec<(String, u64)> = c
            .zrange_withscores(keys::workers_seen(), 0, -1)
            .await
            .map_err(|e| self.err(e))?;
        let mut out = vec![];
        for (id, at) in seen {
            let info: Option<String> = c
                .hget(keys::workers(), &id)
                .await
                .map_err(|e| self.err(e))?;
            out.push((id, info.unwrap_or_default(), at));
        }
        Ok(out)
    }

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
        let infos = self.fields_of(&mut c, &keys::workers(), &seen).await?;
        Ok(seen
            .iter()
            .zip(infos)
            .filter_map(|((_, at), info)| Some((info?, *at)))
            .collect())
    }
}
