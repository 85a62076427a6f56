//! Records outcomes in Redis in batches (one script call per queue per batch), retrying
//! through Redis outages so an outcome is never dropped. A task's slot is freed only once
//! its outcome is recorded.

use super::{Shared, Shutdown};
use crate::broker::ops::Finish;
use crate::broker::{now_ms, QueueKeys};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, OwnedSemaphorePermit};

pub(crate) enum Msg {
    Done {
        queue: Arc<QueueKeys>,
        finish: Finish,
        notify: Option<String>,
        permit: Option<OwnedSemaphorePermit>,
    },
    Stop,
}

pub(crate) fn send(
    shared: &Shared,
    q: &Arc<QueueKeys>,
    finish: Finish,
    notify: Option<String>,
    permit: OwnedSemaphorePermit,
) {
    let _ = shared.finish_tx.send(Msg::Done {
        queue: q.clone(),
        finish,
        notify,
        permit: Some(permit),
    });
}

pub(crate) fn send_without_permit(shared: &Shared, q: &Arc<QueueKeys>, finish: Finish) {
    let _ = shared.finish_tx.send(Msg::Done {
        queue: q.clone(),
        finish,
        notify: None,
        permit: None,
    });
}

const BATCH: usize = 256;

/// One queue's share of a batch: its keys, the outcomes and the `--wait` notifications.
type QueueBatch = (Arc<QueueKeys>, Vec<Finish>, Vec<Option<String>>);

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
    let mut by_queue: HashMap<String, QueueBatch> = HashMap::new();
    let mut permits = Vec::new();
    for m in batch {
        if let Msg::Done {
            queue,
            finish,
            notify,
            permit,
        } = m
        {
            let e = by_queue
                .entry(queue.name.clone())
                .or_insert_with(|| (queue.clone(), vec![], vec![]));
            e.1.push(finish);
            e.2.push(notify);
            permits.push(permit);
        }
    }
    for (_, (q, finishes, notifies)) in by_queue {
        let applied = write_with_retry(shared, &q, &finishes).await;
        {
            let mut leased = shared.leased.lock().unwrap();
            for f in &finishes {
                leased.remove(&f.id);
            }
        }
        for ((f, ok), n) in finishes.iter().zip(applied).zip(notifies) {
            if !ok {
                tracing::warn!(id = %f.id, queue = %q.name, "lease was lost before the outcome was recorded (another worker recovered the task); outcome ignored");
                continue;
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
async fn write_with_retry(shared: &Shared, q: &QueueKeys, finishes: &[Finish]) -> Vec<bool> {
    let mut delay = Duration::from_millis(50);
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
                now_ms(),
            )
            .await
        {
            Ok(v) => return v,
            Err(e) => {
                if *shared.shutdown.borrow() != Shutdown::Run {
                    let t = *gave_up_at.get_or_insert_with(Instant::now);
                    if t.elapsed() > Duration::from_secs(3) {
                        tracing::error!(queue = %q.name, tasks = finishes.len(), error = %e, "giving up recording outcomes; their leases will expire and the tasks will be recovered");
                        return vec![false; finishes.len()];
                    }
                }
                tracing::warn!(queue = %q.name, error = %e, retry_in = ?delay, "cannot record task outcomes; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}
