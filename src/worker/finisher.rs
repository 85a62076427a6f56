//! Records outcomes in Redis in batches (one script call per queue per batch), retrying
//! through Redis outages so an outcome is never dropped. A task's slot is freed only once
//! its outcome is recorded. Each outcome carries its run's claim token: the script refuses
//! a superseded run's outcome, and recognises a retried write whose first reply was lost.

use super::{RunId, Shared};
use crate::backoff::Backoff;
use crate::broker::finish::{Applied, Finish, FinishKind};
use crate::broker::outcome::TaskOutcome;
use crate::broker::QueueKeys;
use crate::shutdown::Shutdown;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, OwnedSemaphorePermit};

pub(crate) enum Msg {
    Done {
        run: RunId,
        finish: Finish,
        /// For a client in `enqueue --wait` (boxed: most tasks have none).
        notify: Option<Box<TaskOutcome>>,
        permit: Option<OwnedSemaphorePermit>,
    },
    Stop,
}

pub(crate) fn send(
    shared: &Shared,
    run: RunId,
    finish: Finish,
    notify: Option<TaskOutcome>,
    permit: OwnedSemaphorePermit,
) {
    let _ = shared.finish_tx.send(Msg::Done {
        run,
        finish,
        notify: notify.map(Box::new),
        permit: Some(permit),
    });
}

pub(crate) fn send_without_permit(shared: &Shared, run: RunId, finish: Finish) {
    let _ = shared.finish_tx.send(Msg::Done {
        run,
        finish,
        notify: None,
        permit: None,
    });
}

const BATCH: usize = 256;

/// One queue's share of a batch: the outcomes and the `--wait` notifications.
type QueueBatch = (Vec<Finish>, Vec<Option<Box<TaskOutcome>>>);

pub(crate) async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut stop = false;
    while !stop {
        let Some(first) = rx.recv().await else { break };
        let mut batch = Vec::new();
        for m in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
            match m {
                Msg::Stop => stop = true,
                Msg::Done { .. } => batch.push(m),
            }
            if batch.len() >= BATCH {
                break;
            }
        }
        if stop {
            while let Ok(m) = rx.try_recv() {
                if let Msg::Done { .. } = m {
                    batch.push(m)
                }
            }
        }
        record(&shared, batch).await;
    }
}

async fn record(shared: &Shared, batch: Vec<Msg>) {
    let mut by_queue: HashMap<usize, QueueBatch> = HashMap::new();
    let mut permits = Vec::new();
    for m in batch {
        if let Msg::Done {
            run,
            finish,
            notify,
            permit,
        } = m
        {
            let e = by_queue.entry(run.queue).or_default();
            e.0.push(finish);
            e.1.push(notify);
            permits.push(permit);
        }
    }
    for (qi, (finishes, notifies)) in by_queue {
        let q = shared.queues[qi].clone();
        let applied = write_with_retry(shared, &q, &finishes).await;
        {
            let mut leased = shared.leased.lock().unwrap();
            for f in &finishes {
                leased.remove(&RunId {
                    queue: qi,
                    token: f.token,
                });
            }
        }
        let Some(applied) = applied else { continue };
        for ((f, applied), n) in finishes.iter().zip(applied).zip(notifies) {
            match applied {
                Applied::Yes => {}
                Applied::Already => {
                    tracing::debug!(id = %f.id, run = f.token, queue = %q.name, "outcome was already recorded (the first reply was lost)");
                }
                Applied::Superseded if f.kind == FinishKind::Fenced => {
                    tracing::info!(id = %f.id, run = f.token, queue = %q.name, "stopped run noted in the task's history (its lease had expired and the task was recovered)");
                    continue;
                }
                Applied::Superseded => {
                    tracing::warn!(id = %f.id, run = f.token, queue = %q.name, outcome = f.kind.as_str(), "outcome refused: this run was superseded (its lease expired and the task was recovered, so it may have run again); the recovered run's outcome counts");
                    continue;
                }
            }
            if let Some(n) = n {
                if let Err(e) = shared.broker.notify(&f.id, &n).await {
                    tracing::warn!(id = %f.id, error = %e, "could not notify the waiting client");
                }
            }
        }
    }
    drop(permits);
}

/// Writes one queue's outcomes, retrying while Redis is away. While the worker is
/// stopping it gives up after a few seconds of failures, so a stop never hangs on a dead
/// Redis: the leases then expire and another worker recovers the tasks, so still nothing
/// is lost.
/// None when it gave up (logged here).
async fn write_with_retry(
    shared: &Shared,
    q: &QueueKeys,
    finishes: &[Finish],
) -> Option<Vec<Applied>> {
    let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
    let mut gave_up_at: Option<Instant> = None;
    loop {
        match shared
            .broker
            .finish(
                q,
                &shared.opts.id,
                finishes,
                shared.opts.dead_max,
                shared.opts.history,
            )
            .await
        {
            Ok(v) => return Some(v),
            Err(e) => {
                if *shared.shutdown.borrow() != Shutdown::Run {
                    let t = *gave_up_at.get_or_insert_with(Instant::now);
                    if t.elapsed() > Duration::from_secs(3) {
                        tracing::error!(queue = %q.name, tasks = finishes.len(), error = %e, "giving up recording outcomes; their leases will expire and the tasks will be recovered");
                        return None;
                    }
                }
                let wait = backoff.next_wait();
                tracing::warn!(queue = %q.name, error = %e, retry_in = ?wait, "cannot record task outcomes; retrying");
                tokio::time::sleep(wait).await;
            }
        }
    }
}
