//! What a run sends when it ends: its outcome (and the slot it frees) goes to the
//! finisher's channel, which records it in Redis (see `finisher`). Runs, the fence and the
//! drain send here; only the finisher reads.

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
