//! What a client in `enqueue --wait` is told when a run it waits for settles: the task's
//! result or its error (URL passwords masked), once the task is done or dead. A retry or
//! a deferral is not an end; a fenced, poison or handed-back run tells nothing.

use super::{Ending, Settle};
use crate::broker::finish::FinishKind;
use crate::broker::outcome::{Ended, TaskOutcome};
use crate::secrets::redact_url;
use crate::worker::handler::Outcome;

pub(super) fn waiter_outcome(s: &Settle) -> Option<TaskOutcome> {
    let Ending::Ran { outcome, .. } = &s.ending else {
        return None;
    };
    let settled = !matches!(s.finish.kind, FinishKind::Retry | FinishKind::Defer);
    if !(s.notify && settled) {
        return None;
    }
    let (state, error) = match outcome {
        Outcome::Done(_) => (Ended::Done, None),
        Outcome::Retry { error, .. } | Outcome::Fail { error } => {
            (Ended::Dead, Some(redact_url(error)))
        }
        Outcome::Defer { reason, .. } => (Ended::Dead, Some(redact_url(reason))),
    };
    let result = match outcome {
        Outcome::Done(r) => r.as_deref().map(redact_url),
        _ => None,
    };
    Some(TaskOutcome {
        error,
        id: Some(s.finish.id.clone()),
        result,
        state,
    })
}
