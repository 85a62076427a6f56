//! Promoting: scheduled and retrying tasks whose time has come move to pending.

use super::scripts::PROMOTE;
use super::{Broker, QueueKeys, Result};
use std::time::Duration;

impl Broker {
    pub async fn promote(&self, q: &QueueKeys) -> Result<(u64, Option<Duration>)> {
        let mut c = self.conn();
        let (moved, next): (u64, i64) = PROMOTE
            .key(&q.scheduled)
            .key(&q.retry)
            .key(&q.data)
            .key(&q.pending)
            .arg(1000)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok((
            moved,
            (next >= 0).then(|| Duration::from_millis(next as u64)),
        ))
    }

    /// Whether the queue has delayed or retrying tasks at all: one `EXISTS` (an empty
    /// ZSET does not exist), cheaper than running `promote` when there are none.
    pub async fn has_delayed(&self, q: &QueueKeys) -> Result<bool> {
        let mut c = self.conn();
        let n: u64 = redis::cmd("EXISTS")
            .arg(&q.scheduled)
            .arg(&q.retry)
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }
}
