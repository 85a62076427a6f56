//! Graceful stop: let running tasks finish until the timeout or a second signal, then
//! hand the rest back to pending (an interrupted run is not counted as an attempt).
//! Platform starts (`config::FINISH_ON_STOP`) are waited for past the timeout, up to
//! their own bound, saying what it waits for: only a second signal cuts them.
//!
//! What the stop waits for is also published with the worker's heartbeat (`stopping` in
//! its registry entry), so `ciq rollback` can show it live while it stops the unit.

use super::settle::{self, Ending};
use super::{RunId, Running, Shared};
use crate::broker::now_ms;
use crate::shutdown::Shutdown;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A stopping worker's state, as its registry entry shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stopping {
    /// When the stop began (ms since the epoch, this host's clock).
    pub since_ms: u64,
    /// The graceful part is over: only runs that must finish are still waited for.
    pub past_timeout: bool,
    pub waiting_for: Vec<Waiting>,
}

/// One run a stop waits for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waiting {
    pub task: String,
    pub args: serde_json::Map<String, serde_json::Value>,
    pub running_s: u64,
    /// A platform start: waited for past the shutdown timeout (up to this many seconds
    /// of its run); only a second signal cuts it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_within_s: Option<u64>,
}

/// The running tasks a stop waits for now; past the timeout only those that must finish
/// (a platform start within its own bound).
fn waiting(shared: &Shared, now: Instant, past_timeout: bool) -> Vec<Waiting> {
    let running = shared.running.lock().unwrap();
    let mut out: Vec<Waiting> = running
        .values()
        .filter_map(|r| {
            let bound = crate::config::FINISH_ON_STOP
                .iter()
                .find(|(t, bound)| *t == r.env.task && now < r.started + *bound)
                .map(|(_, bound)| bound.as_secs());
            (!past_timeout || bound.is_some()).then(|| Waiting {
                task: r.env.task.clone(),
                args: r.env.args.clone(),
                running_s: now.duration_since(r.started).as_secs(),
                finish_within_s: bound,
            })
        })
        .collect();
    out.sort_by(|a, b| b.running_s.cmp(&a.running_s).then(a.task.cmp(&b.task)));
    out
}

/// Stores the state for the heartbeat; publishes it at once when what is waited for
/// changed (the seconds running aside), so a watcher sees a stop begin without waiting
/// for the next beat. Best effort: a Redis that does not answer delays nothing.
async fn publish(shared: &Shared, now: Stopping) {
    let changed = {
        let mut cur = shared.stopping.lock().unwrap();
        let same = |a: &Stopping, b: &Stopping| {
            a.past_timeout == b.past_timeout
                && a.waiting_for.len() == b.waiting_for.len()
                && a.waiting_for
                    .iter()
                    .zip(&b.waiting_for)
                    .all(|(x, y)| x.task == y.task && x.args == y.args)
        };
        let changed = cur.as_ref().is_none_or(|c| !same(c, &now));
        *cur = Some(now);
        changed
    };
    if changed {
        let _ = tokio::time::timeout(Duration::from_secs(1), super::maintenance::beat_now(shared))
            .await;
    }
}

pub(super) async fn drain(shared: &Arc<Shared>) {
    let since_ms = now_ms();
    let deadline = Instant::now() + shared.opts.shutdown_timeout;
    let mut shutdown = shared.shutdown.clone();
    let n = shared.running.lock().unwrap().len();
    if n > 0 {
        tracing::info!(running = n, timeout = ?shared.opts.shutdown_timeout, "stopping: waiting for running tasks");
    }
    let mut noted: Option<Instant> = None;
    while !shared.running.lock().unwrap().is_empty() && *shutdown.borrow() != Shutdown::Now {
        let now = Instant::now();
        let past_timeout = now >= deadline;
        let waiting_for = waiting(shared, now, past_timeout);
        if past_timeout && waiting_for.is_empty() {
            break;
        }
        if past_timeout && noted.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(5)) {
            noted = Some(now);
            let n = waiting_for.len();
            tracing::warn!(
                starts = %waiting_for.iter().map(describe).collect::<Vec<_>>().join(", "),
                "stopping: waiting for {n} platform start(s) to finish (a start cut midway leaves a half-made VM); signal again (Ctrl-C) to cut them",
            );
        }
        publish(
            shared,
            Stopping {
                since_ms,
                past_timeout,
                waiting_for,
            },
        )
        .await;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(20)) => {},
            // A dropped sender cannot say "stop now" any more: treat it as that.
            r = shutdown.changed() => if r.is_err() { break },
        }
    }
    let left: Vec<(RunId, Running)> = shared.running.lock().unwrap().drain().collect();
    if !left.is_empty() {
        publish(
            shared,
            Stopping {
                since_ms,
                past_timeout: true,
                waiting_for: vec![],
            },
        )
        .await;
    }
    for (run, r) in left {
        if let Some(t) = r.task {
            t.abort();
            // Its process group is killed when the run is dropped: wait for that.
            let _ = t.await;
        }
        let ending = match r.fenced {
            Some(why) => Ending::Fenced(why),
            None => Ending::Requeued,
        };
        settle::settle(shared, run, r.env, ending, None);
    }
}

/// `start_test {"test_id":7} (running 12 s)`, as the log says it.
fn describe(w: &Waiting) -> String {
    format!(
        "{} {} (running {} s)",
        w.task,
        serde_json::Value::Object(w.args.clone()),
        w.running_s
    )
}
