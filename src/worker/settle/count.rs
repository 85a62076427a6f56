//! Counting settled runs: the Prometheus outcome and run-time metrics of handler
//! outcomes, and the worker's summary counters (done, retried, failed, requeued).
//! Poison and fenced runs are counted in neither.

use super::{Ending, Settle};
use crate::broker::finish::FinishKind;
use crate::worker::handler::Outcome;
use crate::worker::Shared;
use std::sync::atomic::Ordering;

pub(super) fn observe(shared: &Shared, s: &Settle) {
    match &s.ending {
        Ending::Ran { outcome, secs } => {
            let label = label(outcome, s.finish.kind);
            shared.metrics.record(&s.finish.task, s.queue, label, *secs);
            let counter = match label {
                "done" => Some(&shared.done),
                "deferred" => None,
                "retried" => Some(&shared.retried),
                _ => Some(&shared.failed),
            };
            if let Some(c) = counter {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ending::Requeued => {
            shared.requeued.fetch_add(1, Ordering::Relaxed);
        }
        Ending::Fenced(_) | Ending::Poison(_) => {}
    }
}

/// The `outcome` label of `ciq_tasks`.
pub(super) fn label(outcome: &Outcome, kind: FinishKind) -> &'static str {
    match (outcome, kind) {
        (Outcome::Done(_), _) => "done",
        (_, FinishKind::Defer) => "deferred",
        (_, FinishKind::Retry) => "retried",
        (_, FinishKind::Failed) => "failed",
        _ => "dead",
    }
}
