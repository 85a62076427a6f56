//! Purging: a state's tasks deleted in batches, their unique keys and history with them.

use super::scripts::PURGE;
use super::tasks::State;
use super::{Broker, QueueKeys, Result};
use redis::AsyncCommands;

impl Broker {
    /// Deletes up to `batch` tasks of one state; returns how many went.
    pub async fn purge_batch(&self, queue: &str, state: State, batch: usize) -> Result<u64> {
        let q = QueueKeys::new(queue);
        let mut c = self.conn();
        let kind = if state == State::Pending {
            "list"
        } else {
            "zset"
        };
        // Read the tasks first, so the script declares their unique keys.
        let envs: Vec<String> = if state == State::Pending {
            c.lrange(&q.pending, -(batch as isize), -1)
                .await
                .map_err(|e| self.err(e))?
        } else {
            let ids: Vec<String> = c
                .zrange(state.key(&q), 0, batch as isize - 1)
                .await
                .map_err(|e| self.err(e))?;
            if ids.is_empty() {
                vec![]
            } else {
                let v: Vec<Option<String>> =
                    c.hmget(&q.data, &ids).await.map_err(|e| self.err(e))?;
                v.into_iter().flatten().collect()
            }
        };
        let mut inv = PURGE.key(state.key(&q));
        inv.key(&q.data).key(&q.history).key(&q.history_ends);
        for k in super::sweep::unique_keys(&q, envs.iter().map(String::as_str)) {
            inv.key(k);
        }
        inv.arg(kind)
            .arg(batch)
            .arg(q.unique_prefix())
            .arg(super::now_ms())
            .arg(state.name())
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))
    }
}
