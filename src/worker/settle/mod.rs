//! One settle path for every way a run ends: a handler's outcome, a run this worker
//! stopped itself (fenced), a poison message (undecodable, or a task no handler takes)
//! and a run handed back at a stop. Each becomes its finish record (the retry policy),
//! passes the observers in order (counters and metrics, the log line), and goes to the
//! finisher with what a client in `enqueue --wait` is told, if anything.

mod count;
mod log;
mod notify;

use super::handler::Outcome;
use super::{outbox, policy, RunId, Shared};
use crate::broker::finish::Finish;
use crate::broker::Envelope;
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;

/// How a run ended.
pub(crate) enum Ending {
    /// Its handler returned this (a panic, a stop or a time limit is a retry) after `secs`.
    Ran { outcome: Outcome, secs: f64 },
    /// Stopped by this worker, and why: whatever the handler said, it did not finish.
    Fenced(String),
    /// The message cannot run (it does not decode, or no handler takes its task): why.
    Poison(String),
    /// Unfinished at a stop: handed back to pending.
    Requeued,
}

/// A run as it settles: how it ended and the record that stores it.
pub(crate) struct Settle<'a> {
    pub queue: &'a str,
    pub ending: Ending,
    pub finish: Finish,
    /// Delivered before (recovered after a lost lease, or handed back at a stop).
    pub recovered: bool,
    /// A client waits for its outcome (`enqueue --wait`).
    pub notify: bool,
}

/// What sees every settled run, in order, before it goes to the finisher.
const OBSERVERS: [fn(&Shared, &Settle); 2] = [count::observe, log::observe];

/// Settles a run: its record, the observers, then the finisher. `permit`: the slot the
/// run held, freed once the outcome is recorded (none for a run the worker took back).
pub(crate) fn settle(
    shared: &Shared,
    run: RunId,
    env: Arc<Envelope>,
    ending: Ending,
    permit: Option<OwnedSemaphorePermit>,
) {
    let s = Settle {
        queue: &shared.queues[run.queue].name,
        recovered: env.deliveries > 0,
        notify: env.notify,
        finish: record(shared, run, env, &ending),
        ending,
    };
    for observe in OBSERVERS {
        observe(shared, &s);
    }
    let told = notify::waiter_outcome(&s);
    outbox::send(shared, run, s.finish, told, permit);
}

/// The finish record for Redis. The run's envelope has no other holder by now (unless
/// its aborted task is not dropped yet): it is taken, not copied.
fn record(shared: &Shared, run: RunId, env: Arc<Envelope>, ending: &Ending) -> Finish {
    let env = Arc::unwrap_or_clone(env);
    match ending {
        Ending::Ran { outcome, .. } => {
            let task = shared.config.task(&env.task);
            policy::finish_for(env, run.token, outcome, task)
        }
        Ending::Fenced(why) => policy::fenced(env, run.token, why.clone()),
        Ending::Poison(reason) => policy::poison(env, run.token, reason.clone()),
        Ending::Requeued => policy::requeue(env, run.token),
    }
}
