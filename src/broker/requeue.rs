//! Requeueing dead tasks: back to pending in one script, unless their unique key is held.

use super::scripts::REQUEUE;
use super::{Broker, QueueKeys, Result};
use redis::AsyncCommands;

impl Broker {
    /// Moves dead tasks back to pending. Per id: 1 requeued, 0 not dead, -1 unique key held.
    pub async fn requeue_dead(&self, queue: &str, ids: &[String]) -> Result<Vec<i64>> {
        let q = QueueKeys::new(queue);
        let mut c = self.conn();
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let envs: Vec<Option<String>> = c.hmget(&q.data, ids).await.map_err(|e| self.err(e))?;
        let mut inv = REQUEUE.key(&q.dead);
        inv.key(&q.data)
            .key(&q.pending)
            .key(&q.history)
            .key(&q.history_ended);
        for k in super::sweep::unique_keys(&q, envs.iter().flatten().map(String::as_str)) {
            inv.key(k);
        }
        inv.arg(q.unique_prefix()).arg(super::now_ms());
        for id in ids {
            inv.arg(id);
        }
        inv.invoke_async(&mut c).await.map_err(|e| self.err(e))
    }
}
