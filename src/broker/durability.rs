//! Acknowledged writes: with `[broker] min_replicas = N`, an enqueue or an outcome is
//! reported as done only after `WAIT N timeout` says N replicas have it. The WAIT goes
//! on the same connection as the write (WAIT covers that connection's earlier writes).
//! Pair it with Redis's own `min-replicas-to-write N` so a master cut off from its
//! replicas refuses writes instead of accepting ones a failover would drop.

use super::finish::{Finish, FinishKind, HistoryLimits};
use super::sentinel::SentinelAuth;
use super::{Broker, Conn, Envelope, Error, QueueKeys, Result};
use std::time::Duration;

/// How the broker connects and how durable a write must be before it counts.
#[derive(Clone)]
pub struct BrokerOptions {
    /// Replicas that must confirm each enqueue and outcome write (0 = do not wait).
    pub min_replicas: u32,
    /// How long to wait for them before reporting the write as not acknowledged.
    pub min_replicas_timeout: Duration,
    /// Credentials for the sentinels of a `redis+sentinel://` broker.
    pub sentinel: SentinelAuth,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions {
            min_replicas: 0,
            min_replicas_timeout: Duration::from_secs(1),
            sentinel: SentinelAuth::default(),
        }
    }
}

impl std::fmt::Debug for BrokerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerOptions")
            .field("min_replicas", &self.min_replicas)
            .field("min_replicas_timeout", &self.min_replicas_timeout)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// `[broker] min_replicas`: how many replicas must have a write before it counts.
    pub fn min_replicas(&self) -> u32 {
        self.opts.min_replicas
    }

    /// Waits until `min_replicas` replicas have every write made so far on `c`.
    pub(crate) async fn replicated(&self, c: &mut Conn) -> Result<()> {
        let want = self.opts.min_replicas;
        if want == 0 {
            return Ok(());
        }
        let timeout = self.opts.min_replicas_timeout;
        let got: i64 = redis::cmd("WAIT")
            .arg(want)
            .arg(timeout.as_millis().max(1) as u64)
            .query_async(c)
            .await
            .map_err(|e| self.err(e))?;
        if got < want as i64 {
            self.suspect_master();
            return Err(Error::NotReplicated {
                wanted: want,
                got: got.max(0) as u32,
                timeout,
            });
        }
        Ok(())
    }

    /// Gives back the runs of a claim no replica confirmed: each task goes back to the
    /// front of pending as it was claimed, not counted as an attempt, so a replica that
    /// is away costs the tasks time, never their retries (the sweep would count each
    /// expired lease as one). Best effort: if this write fails too, the leases expire
    /// and the sweep recovers the tasks.
    pub(crate) async fn release_unconfirmed(
        &self,
        q: &QueueKeys,
        worker: &str,
        runs: &[(u64, String)],
    ) {
        let items: Vec<Finish> = runs
            .iter()
            .filter_map(|(token, raw)| {
                let mut env = Envelope::from_json(raw).ok()?;
                // Its release writes its record: the message goes back unmarked (a
                // marked one has no record: finish.lua).
                let envelope = match env.take_history_mark() {
                    Some(_) => env.to_json(),
                    None => raw.clone(),
                };
                Some(Finish {
                    id: env.id.clone(),
                    token: *token,
                    kind: FinishKind::Requeue,
                    envelope,
                    delay_ms: 0,
                    unique_key: env.unique_key.clone(),
                    task: env.task.clone(),
                    attempt: 0,
                    marked_at: None,
                })
            })
            .collect();
        if items.is_empty() {
            return;
        }
        // No trimming of dead tasks or histories here: the next outcome does that.
        let keep = HistoryLimits {
            retention_ms: i64::MAX as u64,
            max: i64::MAX as u64,
        };
        match self.finish(q, worker, &items, i64::MAX as u64, keep).await {
            Ok(_) | Err(Error::NotReplicated { .. }) => {
                tracing::debug!(queue = %q.name, tasks = items.len(), "unconfirmed claim given back")
            }
            Err(e) => {
                tracing::warn!(queue = %q.name, error = %e, "could not give back an unconfirmed claim; its leases will expire and the sweep recovers the tasks")
            }
        }
    }
}
