//! A task's outcome handed to the client that waits for it (`enqueue --wait`): the worker
//! pushes it on the task's notify key, the client blocks on that key.

use super::{keys, Broker, Result};
use std::time::Duration;

impl Broker {
    /// Tells a waiting `enqueue --wait` how its task ended.
    pub async fn notify(&self, id: &str, outcome_json: &str) -> Result<()> {
        let mut c = self.conn();
        let k = keys::notify(id);
        redis::pipe()
            .lpush(&k, outcome_json)
            .ignore()
            .expire(&k, 3600)
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(|e| self.err(e))
    }

    /// Waits for the outcome of task `id` (see `notify`); None on timeout.
    pub async fn wait_outcome(&self, id: &str, timeout: Duration) -> Result<Option<String>> {
        let mut c = self.blocking_connection().await?;
        let v: Option<(String, String)> = redis::cmd("BLPOP")
            .arg(keys::notify(id))
            .arg(timeout.as_secs_f64())
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(v.map(|(_, o)| o))
    }
}
