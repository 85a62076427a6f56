//! The log line of a settled run. The lines keep the targets they were first written
//! under (`ciq::worker::task` for a run, `ciq::worker::drain` for a hand-back), so log
//! filters and JSON logs read as before. A fenced run was logged when it was stopped.

use super::{Ending, Settle};
use crate::broker::finish::{Finish, FinishKind};
use crate::broker::Envelope;
use crate::worker::handler::Outcome;
use crate::worker::Shared;

pub(super) fn observe(_: &Shared, s: &Settle) {
    let f = &s.finish;
    let queue = s.queue;
    match &s.ending {
        Ending::Ran { outcome, .. } => ran(s, outcome),
        Ending::Poison(reason) => {
            tracing::warn!(target: "ciq::worker::task", id = %f.id, queue = %queue, %reason, "poison message sent to dead");
        }
        Ending::Requeued => {
            tracing::info!(target: "ciq::worker::drain", id = %f.id, queue = %queue, "returning unfinished task to pending");
        }
        Ending::Fenced(_) => {}
    }
}

fn ran(s: &Settle, outcome: &Outcome) {
    let f = &s.finish;
    let queue = s.queue;
    match (outcome, f.kind) {
        (Outcome::Done(_), _) => {
            if s.recovered {
                // A task recovered after a lost lease (or handed back at a stop): its fate is worth a line.
                tracing::info!(target: "ciq::worker::task", id = %f.id, run = f.token, queue = %queue, "task done (an earlier run of it was interrupted)");
            } else {
                tracing::debug!(target: "ciq::worker::task", id = %f.id, run = f.token, queue = %queue, "task done");
            }
        }
        (Outcome::Defer { reason, after }, _) => {
            tracing::info!(target: "ciq::worker::task", id = %f.id, queue = %queue, %reason, retry_in = %humantime::format_duration(*after), "task deferred (not an attempt)");
        }
        (_, FinishKind::Retry) => {
            tracing::warn!(target: "ciq::worker::task", id = %f.id, run = f.token, queue = %queue, error = %last_error(f), "task failed; will retry");
        }
        _ => {
            tracing::warn!(target: "ciq::worker::task", id = %f.id, run = f.token, queue = %queue, error = %last_error(f), "task failed; moved to dead");
        }
    }
}

fn last_error(f: &Finish) -> String {
    Envelope::from_json(&f.envelope)
        .ok()
        .and_then(|e| e.last_error)
        .unwrap_or_default()
}
