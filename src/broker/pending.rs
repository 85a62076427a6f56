//! Finding a pending task's message by its id: the pending list is scanned oldest first,
//! a chunk of messages per round trip (Redis is never held for the whole list). A pending
//! task has no other entry keyed by its id (a marked one's history record is made at its
//! first outcome: src/broker/envelope.rs), so a cancel and a look-up of a task nothing
//! else knows come here.

use super::{Broker, Envelope, QueueKeys, Result};

const PENDING_CHUNK: isize = 1000;

/// How far a look-up of a pending task without a record may read the pending list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingLookup {
    /// The whole list, a chunk per round trip (`inspect task`, `cancel`).
    Scan,
    /// Bounded, for the web: the `NEAR_SPAN` oldest messages (the next to run) and, when
    /// a position is given (counted from the oldest end, as the web's pending list shows
    /// it), the `NEAR_SPAN` around it: at most two LRANGEs whatever the queue's length.
    Near(Option<u64>),
}

/// Messages read by each window of a bounded look-up.
pub const NEAR_SPAN: u64 = 2000;

/// Is `raw` the message of task `id`? (`needle`: `"id":"<id>"`, a cheap test first.)
fn is_message_of(raw: &str, needle: &str, id: &str) -> bool {
    raw.contains(needle) && Envelope::from_json(raw).is_ok_and(|e| e.id == id)
}

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
            let last = (chunk.len() as isize) < PENDING_CHUNK;
            if let Some(raw) = chunk.into_iter().find(|r| is_message_of(r, &needle, id)) {
                return Ok(Some(raw));
            }
            if last {
                return Ok(None);
            }
            start += PENDING_CHUNK;
        }
    }

    /// The pending message of task `id`, read as `how` allows.
    pub(crate) async fn find_pending_by(
        &self,
        q: &QueueKeys,
        id: &str,
        how: PendingLookup,
    ) -> Result<Option<String>> {
        let near = match how {
            PendingLookup::Scan => return self.find_pending(q, id).await,
            PendingLookup::Near(near) => near,
        };
        let span = NEAR_SPAN as isize;
        let mut p = redis::pipe();
        p.lrange(&q.pending, -span, -1);
        if let Some(pos) = near {
            let from = (pos as isize - span / 2).max(0);
            p.lrange(&q.pending, -(from + span), -(from + 1));
        }
        let windows: Vec<Vec<String>> = p
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.err(e))?;
        let needle = format!("\"id\":\"{id}\"");
        Ok(windows
            .into_iter()
            .flatten()
            .find(|r| is_message_of(r, &needle, id)))
    }
}
