//! Finding a pending task's message by its id: the pending list is scanned oldest first,
//! a chunk of messages per round trip (Redis is never held for the whole list). A pending
//! task has no other entry keyed by its id (a marked one's history record is made at its
//! first outcome: src/broker/envelope.rs), so a cancel and a look-up of a task nothing
//! else knows come here.

use super::{Broker, Envelope, QueueKeys, Result};

const PENDING_CHUNK: isize = 1000;

impl Broker {
    /// The pending message of task `id` exactly as stored, read oldest first in chunks
    /// (rare: a cancel, or a look-up of a task that nothing else knows).
    pub(crate) async fn find_pending(&self, q: &QueueKeys, id: &str) -> Result<Option<String>> {
        let mut c = self.conn();
        let needle = format!("\"id\":\"{id}\"");
        let mut start: isize = 0;
        loop {
            let chunk: Vec<String> = redis::cmd("LRANGE")
                .arg(&q.pending)
                .arg(-(start + PENDING_CHUNK))
                .arg(-(start + 1))
                .query_async(&mut c)
                .await
                .map_err(|e| self.err(e))?;
            if let Some(raw) = chunk
                .iter()
                .find(|r| r.contains(&needle) && Envelope::from_json(r).is_ok_and(|e| e.id == id))
            {
                return Ok(Some(raw.clone()));
            }
            if (chunk.len() as isize) < PENDING_CHUNK {
                return Ok(None);
            }
            start += PENDING_CHUNK;
        }
    }
}
