//! Self-fencing: a run whose lease this worker cannot vouch for is stopped before Redis
//! can consider the lease expired, so a recovered task never runs beside its old run.
//!
//! Each run's deadlines follow from when its claim or last successful renewal was sent
//! (`runner::fence::deadlines`): past the stop time the run is told to stop (an `exec`
//! process group gets SIGTERM), past the kill time it is dropped (SIGKILL). A run whose
//! renewal reports it superseded (recovered by a sweep, or canceled with `--terminate`)
//! is killed at once. A stopped run's outcome is never used: the finisher records it as
//! `fenced` (back to pending if the lease was still this run's, else a history note).

use super::settle::{self, Ending};
use super::{RunId, Shared};
use crate::runner::fence;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// The fencing loop: checks the runs at their next deadline, and at least every tenth
/// of a lease (a run started since is at least 0.8 lease from its stop time).
pub(crate) async fn run(shared: Arc<Shared>) {
    let cap = (shared.opts.lease / 10).max(Duration::from_millis(10));
    loop {
        let (killed, next) = check(&shared);
        for k in killed {
            let _ = k.await;
        }
        let now = Instant::now();
        let until = next.map_or(now + cap, |n| n.min(now + cap)).max(now);
        tokio::time::sleep_until(until.into()).await;
    }
}

/// Before a claim: applies the deadlines now and waits until every killed run is gone.
/// Cheap when nothing is due (one lock).
pub(crate) async fn check_now(shared: &Arc<Shared>) {
    for k in check_due(shared) {
        let _ = k.await;
    }
}

/// Applies the deadlines now if one is due (one lock when none is): the runs it kills
/// are aborted and settled as fenced; their tasks are returned, to await by a caller
/// that must know they are gone.
pub(crate) fn check_due(shared: &Arc<Shared>) -> Vec<JoinHandle<()>> {
    let due = shared
        .fence_next
        .lock()
        .unwrap()
        .is_some_and(|n| Instant::now() >= n);
    if due {
        check(shared).0
    } else {
        vec![]
    }
}

/// Moves each run's fence to its lease's deadlines, stops the runs past their stop time
/// and kills those past their kill time. Returns the killed runs' tasks (await them to
/// know they are gone) and the earliest deadline still ahead.
fn check(shared: &Arc<Shared>) -> (Vec<JoinHandle<()>>, Option<Instant>) {
    let now = Instant::now();
    let lease = shared.opts.lease;
    let mut next: Option<Instant> = None;
    let mut kill = vec![];
    {
        let leased = shared.leased.lock().unwrap();
        let mut running = shared.running.lock().unwrap();
        for (run, r) in running.iter_mut() {
            let Some(l) = leased.get(run) else {
                // Its lease is gone (superseded): the heartbeat kills it; so does this.
                kill.push(*run);
                continue;
            };
            let (stop_at, kill_at) = fence::deadlines(l.renewed, lease);
            r.fence.send_if_modified(|st| {
                let changed = st.stop_at != stop_at || st.kill_at != kill_at;
                st.stop_at = stop_at;
                st.kill_at = kill_at;
                changed
            });
            if now >= kill_at {
                kill.push(*run);
                continue;
            }
            if now >= stop_at && r.fenced.is_none() {
                let why = format!(
                    "stopped by its worker: lease not renewed for {:.1} s (Redis unreachable or this worker stalled); stopped before the lease could expire",
                    now.duration_since(l.renewed).as_secs_f64()
                );
                tracing::warn!(id = %r.env.id, run = run.token, queue = %shared.queues[run.queue].name, "{why}");
                r.fenced = Some(why);
                r.fence.send_modify(|st| st.stop = true);
            }
            let d = if r.fenced.is_some() { kill_at } else { stop_at };
            next = Some(next.map_or(d, |n| n.min(d)));
        }
    }
    *shared.fence_next.lock().unwrap() = next;
    let killed = kill
        .into_iter()
        .filter_map(|run| {
            kill_run(
                shared,
                run,
                "stopped by its worker: lease not renewed in time",
            )
        })
        .collect();
    (killed, next)
}

/// Drops a run now (its process group is SIGKILLed as it is dropped) and records it as
/// fenced. Returns its task, to await; None if it had already ended.
pub(crate) fn kill_run(shared: &Shared, run: RunId, why: &str) -> Option<JoinHandle<()>> {
    let r = shared.running.lock().unwrap().remove(&run)?;
    let why = r.fenced.unwrap_or_else(|| why.to_string());
    r.fence.send_modify(|st| st.stop = true);
    tracing::warn!(id = %r.env.id, run = run.token, queue = %shared.queues[run.queue].name, reason = %why, "run killed by its worker");
    let task = r.task;
    if let Some(t) = &task {
        t.abort();
    }
    settle::settle(shared, run, r.env, Ending::Fenced(why), None);
    task
}
