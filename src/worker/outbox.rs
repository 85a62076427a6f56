//! What a run sends when it ends: its outcome (and the slot it frees) goes to the
//! finisher's channel, which records it in Redis (see `finisher`). Every run's end is sent
//! here by `settle`; only the finisher reads.

use super::{RunId, Shared};
use crate::broker::finish::Finish;
use crate::broker::outcome::TaskOutcome;
use tokio::sync::OwnedSemaphorePermit;

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

/// Only `settle` sends: every run's end passes there first.
pub(crate) fn send(
    shared: &Shared,
    run: RunId,
    finish: Finish,
    notify: Option<TaskOutcome>,
    permit: Option<OwnedSemaphorePermit>,
) {
    let _ = shared.finish_tx.send(Msg::Done {
        run,
        finish,
        notify: notify.map(Box::new),
        permit,
    });
}
