//! Enqueueing: one task (now, at a time, or after a delay by the Redis server's clock),
//! the script beat's fires share (with its idempotency key), and many at once.

use super::scripts::ENQUEUE;
use super::{keys, Broker, Envelope, QueueKeys, Result};
use redis::AsyncCommands;
use std::time::Duration;

/// Result of an enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    New(String),
    /// The unique key is held by this task.
    Duplicate(String),
}

impl Enqueued {
    pub fn id(&self) -> &str {
        match self {
            Enqueued::New(id) | Enqueued::Duplicate(id) => id,
        }
    }
}

impl Broker {
    /// Enqueues one task; `due_ms` > now keeps it in the scheduled set until then.
    pub async fn enqueue(&self, env: &Envelope, due_ms: Option<u64>) -> Result<Enqueued> {
        self.enqueue_at(env, due_ms.unwrap_or(0), 0).await
    }

    /// Enqueues one task due `delay` from now by the Redis server's clock (`--countdown`).
    pub async fn enqueue_after(&self, env: &Envelope, delay: Duration) -> Result<Enqueued> {
        self.enqueue_at(env, 0, (delay.as_millis() as u64).max(1))
            .await
    }

    async fn enqueue_at(&self, env: &Envelope, due_ms: u64, delay_ms: u64) -> Result<Enqueued> {
        let mut c = self.conn();
        let r = self
            .enqueue_script(&mut c, env, due_ms, delay_ms, None)
            .await?;
        self.replicated(&mut c).await?;
        Ok(r)
    }

    /// The enqueue script, plus the queue registry update. `idem`: beat's idempotency
    /// key for this fire and its TTL: a repeat returns what the first call did.
    pub(crate) async fn enqueue_script(
        &self,
        c: &mut super::Conn,
        env: &Envelope,
        due_ms: u64,
        delay_ms: u64,
        idem: Option<(&str, Duration)>,
    ) -> Result<Enqueued> {
        let q = QueueKeys::new(&env.queue);
        // A task queued now gets no separate history record while it waits: the message
        // carries the mark and its enqueue time, and its first outcome writes the record.
        // Not beat's (its record says "by beat" and the rollout gates read it), and not
        // one with a unique key: the key names the task, and `inspect --unique` and the
        // web's search by key find its record in one read, however deep it waits.
        let immediate = due_ms == 0 && delay_ms == 0 && idem.is_none() && env.unique_key.is_none();
        let body = if immediate && !env.history {
            Envelope {
                history: true,
                ..env.clone()
            }
            .to_json()
        } else {
            env.to_json()
        };
        let (ukey, has_unique) = match &env.unique_key {
            Some(u) => (q.unique(u), "1"),
            None => (q.unique(""), "0"),
        };
        let mut inv = ENQUEUE.key(&q.pending);
        inv.key(&q.scheduled)
            .key(&q.data)
            .key(ukey)
            .key(&q.history)
            .key(idem.map(|(k, _)| k).unwrap_or(&q.pending))
            .key(&q.retry)
            .arg(&env.id)
            .arg(body)
            .arg(due_ms)
            .arg(has_unique)
            .arg(delay_ms)
            .arg(env.unique_key.as_deref().unwrap_or(""))
            .arg(
                idem.map(|(_, ttl)| ttl.as_millis().max(1) as u64)
                    .unwrap_or(0),
            )
            .arg(if idem.is_some() { "beat" } else { "" })
            .arg(if immediate { "1" } else { "" });
        // The queue registry update rides the same multiplexed connection concurrently, so
        // it adds no round trip of its own (a separate command: on Redis Cluster the
        // registry may live on another node).
        let mut c2 = self.conn();
        let (res, _) = tokio::join!(
            inv.invoke_async::<(i64, String)>(c),
            c2.sadd::<_, _, ()>(keys::queues(), &env.queue)
        );
        let (ok, id) = res.map_err(|e| self.err(e))?;
        Ok(if ok == 1 {
            Enqueued::New(id)
        } else {
            Enqueued::Duplicate(id)
        })
    }

    /// Enqueues many immediate tasks without unique keys in batches of 1,000, each batch
    /// one MULTI/EXEC transaction: a batch goes in whole or not at all (Redis refuses it
    /// at queueing time when out of memory), so the count that went in is exact. Returns
    /// how many went in and the error that stopped the rest, if any.
    pub async fn enqueue_bulk(&self, envs: &[Envelope]) -> (usize, Result<()>) {
        let mut c = self.conn();
        let mut queues: Vec<&str> = envs.iter().map(|e| e.queue.as_str()).collect();
        queues.sort_unstable();
        queues.dedup();
        if !queues.is_empty() {
            if let Err(e) = c.sadd::<_, _, ()>(keys::queues(), queues).await {
                return (0, Err(self.err(e)));
            }
        }
        let mut done = 0;
        // A transaction never spans two queues: on Redis Cluster they may be on two nodes.
        for run in envs.chunk_by(|a, b| a.queue == b.queue) {
            for chunk in run.chunks(1000) {
                let mut p = redis::pipe();
                p.atomic();
                for e in chunk {
                    p.lpush(QueueKeys::new(&e.queue).pending, e.to_json())
                        .ignore();
                }
                if let Err(e) = p.query_async::<()>(&mut c).await {
                    return (done, Err(self.err(e)));
                }
                done += chunk.len();
            }
        }
        if let Err(e) = self.replicated(&mut c).await {
            return (done, Err(e));
        }
        (done, Ok(()))
    }
}
