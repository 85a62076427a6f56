//! Records outcomes in Redis in batches (one script call per queue per batch), retrying
//! through Redis outages so an outcome is never dropped. A task's slot is freed only once
//! its outcome is recorded. Each outcome carries its run's claim token: the script refuses
//! a superseded run's outcome, and recognises a retried write whose first reply was lost.
//! While there is more work, the slots a batch frees are refilled by a claim sent with
//! the batch (one round trip for both); the claimed tasks start once the batch is recorded.

use super::outbox::Msg;
use super::{fencing, task, RunId, Shared};
use crate::backoff::Backoff;
use crate::broker::claim::Claim;
use crate::broker::finish::{Applied, Finish, FinishKind, Outcomes};
use crate::broker::outcome::TaskOutcome;
use crate::broker::QueueKeys;
use crate::shutdown::Shutdown;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, OwnedSemaphorePermit};

const BATCH: usize = 256;

/// One queue's share of a batch: the outcomes and the `--wait` notifications.
#[derive(Default)]
struct QueueBatch {
    finishes: Vec<Finish>,
    notifies: Vec<Option<Box<TaskOutcome>>>,
}

/// A batch being recorded, per queue (indexed as the worker's queues), with the slots its
/// outcomes free. Kept from one batch to the next: a batch allocates nothing once the
/// buffers have grown to the batches seen.
struct Batch {
    queues: Vec<QueueBatch>,
    permits: Vec<OwnedSemaphorePermit>,
    /// Outcomes in the batch.
    len: usize,
}

impl Batch {
    fn new(queues: usize) -> Batch {
        Batch {
            queues: (0..queues).map(|_| QueueBatch::default()).collect(),
            permits: Vec::new(),
            len: 0,
        }
    }

    fn push(&mut self, m: Msg) {
        if let Msg::Done {
            run,
            finish,
            notify,
            permit,
        } = m
        {
            let q = &mut self.queues[run.queue];
            q.finishes.push(finish);
            q.notifies.push(notify);
            self.permits.extend(permit);
            self.len += 1;
        }
    }

    /// The queue of all the batch's outcomes, when they are all from one.
    fn only_queue(&self) -> Option<usize> {
        let mut used = (0..self.queues.len()).filter(|&i| !self.queues[i].finishes.is_empty());
        match (used.next(), used.next()) {
            (Some(qi), None) => Some(qi),
            _ => None,
        }
    }

    /// Empties the batch, keeping its buffers (the slots still held are freed).
    fn clear(&mut self) {
        for q in &mut self.queues {
            q.finishes.clear();
            q.notifies.clear();
        }
        self.permits.clear();
        self.len = 0;
    }
}

pub(crate) async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut stop = false;
    // Outcomes go with a refill claim only once outcomes were recorded the ordinary way
    // (the first batch, and after a failed write, go alone until one succeeds).
    let mut recorded = false;
    let mut batch = Batch::new(shared.queues.len());
    while !stop {
        let Some(first) = rx.recv().await else { break };
        for m in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
            match m {
                Msg::Stop => stop = true,
                m @ Msg::Done { .. } => batch.push(m),
            }
            if batch.len >= BATCH {
                break;
            }
        }
        if stop {
            while let Ok(m) = rx.try_recv() {
                batch.push(m);
            }
        }
        record(&shared, &mut batch, &mut recorded).await;
        batch.clear();
    }
}

async fn record(shared: &Arc<Shared>, batch: &mut Batch, recorded: &mut bool) {
    // The slots these outcomes free: while the last claim found all it asked for, the
    // tasks that refill them are claimed from the queue picked next (in weighted order)
    // in the same round trip as the outcomes are recorded, and start once the outcomes
    // are recorded. On Redis Cluster each queue has its own slot, so there the claim
    // rides only when that queue is the one these outcomes are from.
    let wanted = *recorded
        && !batch.permits.is_empty()
        && shared.more.load(Ordering::Relaxed)
        && !shared.stopping();
    // (outcomes' queue, queue to claim from), picked only when a refill is wanted.
    let refill = if wanted {
        batch
            .only_queue()
            .map(|qi| (qi, shared.next_queue()))
            .filter(|&(qi, cq)| qi == cq || shared.broker.one_script_spans_queues())
    } else {
        None
    };
    if let Some((qi, cq)) = refill {
        fencing::check_now(shared).await;
        let q = shared.queues[qi].clone();
        let claim_q = shared.queues[cq].clone();
        let QueueBatch { finishes, notifies } = &mut batch.queues[qi];
        let sent = Instant::now();
        let res = shared
            .broker
            .finish_and_claim(
                Outcomes {
                    q: &q,
                    worker: &shared.opts.id,
                    items: finishes,
                    dead_max: shared.opts.dead_max,
                    hist: shared.opts.history,
                },
                &claim_q,
                batch.permits.len(),
                shared.opts.lease,
            )
            .await;
        match res {
            Ok((applied, claim)) => {
                settle(shared, qi, finishes, notifies, Some(applied)).await;
                start_claimed(shared, cq, sent, claim, &mut batch.permits);
                return;
            }
            Err(e) => {
                // The claim may have been applied with its reply lost: those tasks'
                // leases expire and they are recovered (late, never twice).
                tracing::warn!(queue = %q.name, error = %e, "cannot record task outcomes with a claim; recording them alone");
                *recorded = false;
                let applied = write_with_retry(shared, &q, finishes).await;
                *recorded = applied.is_some();
                settle(shared, qi, finishes, notifies, applied).await;
                return;
            }
        }
    }
    let mut all = true;
    for qi in 0..batch.queues.len() {
        let QueueBatch { finishes, notifies } = &mut batch.queues[qi];
        if finishes.is_empty() {
            continue;
        }
        let q = shared.queues[qi].clone();
        let applied = write_with_retry(shared, &q, finishes).await;
        all &= applied.is_some();
        settle(shared, qi, finishes, notifies, applied).await;
    }
    *recorded = all;
}

/// Starts the tasks a claim sent with outcomes took, in the slots the outcomes freed;
/// slots left over go back to the fetch loop.
fn start_claimed(
    shared: &Arc<Shared>,
    qi: usize,
    sent: Instant,
    claim: Claim,
    permits: &mut Vec<OwnedSemaphorePermit>,
) {
    match claim {
        Claim::Paused => {
            shared
                .paused
                .lock()
                .unwrap()
                .insert(shared.queues[qi].name.clone());
            shared.more.store(false, Ordering::Relaxed);
        }
        Claim::Tasks(tasks) => {
            shared.found(qi, !tasks.is_empty());
            shared
                .more
                .store(tasks.len() >= permits.len(), Ordering::Relaxed);
            permits.truncate(tasks.len());
            for ((token, raw), permit) in tasks.into_iter().zip(permits.drain(..)) {
                task::start_task(shared, RunId { queue: qi, token }, sent, raw, permit);
            }
        }
    }
}

/// After one queue's outcomes were written (or given up: None): the runs' leases are
/// no longer held, and each outcome is logged or its waiting client notified.
async fn settle(
    shared: &Shared,
    qi: usize,
    finishes: &[Finish],
    notifies: &mut Vec<Option<Box<TaskOutcome>>>,
    applied: Option<Vec<Applied>>,
) {
    let q = &shared.queues[qi];
    {
        let mut leased = shared.leased.lock().unwrap();
        for f in finishes {
            leased.remove(&RunId {
                queue: qi,
                token: f.token,
            });
        }
    }
    let Some(applied) = applied else { return };
    for ((f, applied), n) in finishes.iter().zip(applied).zip(notifies.drain(..)) {
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
