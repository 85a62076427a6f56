//! One entry on one tick of the leader: record the last task's outcome, plan what is
//! due, fire it through the fenced fire script, move the cursor.

use super::plan::plan;
use super::Entry;
use crate::broker::beat::{Fire, Fired};
use crate::broker::enqueue::Enqueued;
use crate::broker::{self, Broker};
use crate::config::Config;
use std::time::Duration;

/// How long the worker keeps a task's outcome message (see `Broker::notify`); after
/// that without one, the outcome of the entry's last task is unknown.
const OUTCOME_KEPT_MS: u64 = 3_600_000;

pub(crate) struct TickCtx<'a> {
    pub cfg: &'a Config,
    pub broker: &'a Broker,
    pub holder: &'a str,
    pub token: u64,
    pub history: usize,
    /// `beat --once`: an entry that never ran is due.
    pub fire_unseen: bool,
    /// A fire this much after its time counts as late in the history.
    pub late_after_ms: u64,
    pub fires: &'a crate::metrics::beat::Fires,
}

/// What became of an entry on this tick.
pub(crate) enum Step {
    /// Its next fire time, if known.
    Next(Option<u64>),
    /// The lease is no longer ours: stop firing at once.
    LostLease,
}

pub(crate) async fn entry(cx: &TickCtx<'_>, e: &Entry, now: u64) -> broker::Result<Step> {
    let mut state = cx.broker.beat_entry(&e.name).await?;
    if let Some(p) = &state.pending_fire {
        // A fire claimed before a crash or a lost reply: enqueue its task (once) first.
        cx.broker
            .beat_settle_pending(&e.name, p, cx.history)
            .await?;
        state = cx.broker.beat_entry(&e.name).await?;
    }
    if let (Some(id), Some("pending" | "unknown")) =
        (&state.last_task_id, state.last_outcome.as_deref())
    {
        record_outcome(cx, e, id, state.last_fire_ms.unwrap_or(0), now).await?;
    }
    let cursor = state
        .next_fire_ms
        .filter(|_| state.schedule.as_deref() == Some(e.schedule.as_str()));
    let Some(p) = plan(&e.rule, cursor, now, e.policy, cx.fire_unseen) else {
        return Ok(Step::Next(state.next_fire_ms));
    };
    if p.missed > 0 {
        tracing::warn!(
            entry = %e.name, missed = p.missed, firing = p.fires.len(),
            catch_up = e.policy.catch_up.as_str(),
            "fire times were missed (beat down, failover or Redis unreachable); applying the catch-up policy"
        );
    }
    let base = Fire {
        entry: &e.name,
        holder: cx.holder,
        token: cx.token,
        fire_ms: None,
        next_ms: p.next,
        schedule: &e.schedule,
        fired_ttl: Duration::ZERO,
        history: cx.history,
        envelope: None,
        late: false,
    };
    // The fire script moves the cursor with each fire; otherwise it is set below.
    let mut cursor_set = false;
    for (i, &at) in p.fires.iter().enumerate() {
        let next_ms = p.fires.get(i + 1).copied().unwrap_or(p.next);
        cursor_set = match fire_one(cx, e, &base, at, next_ms, now).await? {
            Some(Fired::NotLeader) => return Ok(Step::LostLease),
            Some(Fired::Enqueued(_)) => true,
            _ => false,
        };
    }
    if !cursor_set {
        if let Fired::NotLeader = cx.broker.beat_fire(&base, now).await? {
            return Ok(Step::LostLease);
        }
    }
    Ok(Step::Next(Some(p.next)))
}

/// Fires one fire time; None when the task could not even be built (logged).
async fn fire_one(
    cx: &TickCtx<'_>,
    e: &Entry,
    base: &Fire<'_>,
    at: u64,
    next_ms: u64,
    now: u64,
) -> broker::Result<Option<Fired>> {
    let args = e.args.clone();
    let mut env = match crate::submit::build_envelope(
        cx.cfg,
        &e.task,
        args,
        e.queue.as_deref(),
        None,
    ) {
        Ok(env) => env,
        Err(msg) => {
            tracing::error!(entry = %e.name, error = %msg, "cannot build the task; skipping this fire");
            return Ok(None);
        }
    };
    // Ask the worker to leave an outcome message: that is how `last_outcome` is known.
    env.notify = true;
    let f = Fire {
        fire_ms: Some(at),
        next_ms,
        fired_ttl: fired_ttl(at, next_ms),
        envelope: Some(&env),
        late: now.saturating_sub(at) > cx.late_after_ms,
        ..base.clone()
    };
    let r = cx.broker.beat_fire(&f, now).await?;
    if let Fired::Enqueued(_) = r {
        cx.fires.record(&e.name);
    }
    let when = crate::output::ts(at);
    match &r {
        Fired::Already(id) => {
            tracing::debug!(entry = %e.name, fire_time = %when, task_id = %id, "already fired")
        }
        // A fire on time is routine (every second with the sample config): DEBUG. A late
        // (catch-up) fire is news: INFO. Failures are WARN where the outcome is read.
        Fired::Enqueued(Enqueued::New(id)) if f.late => {
            tracing::info!(entry = %e.name, task = %e.task, fire_time = %when, task_id = %id, late = true, "fired late (catch-up)")
        }
        Fired::Enqueued(Enqueued::New(id)) => {
            tracing::debug!(entry = %e.name, task = %e.task, fire_time = %when, task_id = %id, "fired")
        }
        Fired::Enqueued(Enqueued::Duplicate(id)) => {
            tracing::debug!(entry = %e.name, task = %e.task, fire_time = %when, task_id = %id, "fired; the previous run still holds the unique key")
        }
        Fired::NotLeader | Fired::CursorSet => {}
    }
    Ok(Some(r))
}

/// The idempotency key lives for two periods (at least 10 minutes, at most a week):
/// long past any chance of a second beat considering the same fire time.
fn fired_ttl(at: u64, next: u64) -> Duration {
    let period = next.saturating_sub(at);
    Duration::from_millis((period * 2).clamp(600_000, 7 * 86_400_000))
}

async fn record_outcome(
    cx: &TickCtx<'_>,
    e: &Entry,
    id: &str,
    fired_ms: u64,
    now: u64,
) -> broker::Result<()> {
    let outcome = match cx.broker.task_outcome(id).await? {
        Some(o) => o,
        None if now.saturating_sub(fired_ms) > OUTCOME_KEPT_MS => "unknown",
        None => return Ok(()),
    };
    if cx.broker.beat_outcome(&e.name, id, outcome).await? {
        if outcome == "failed" {
            tracing::warn!(entry = %e.name, task_id = %id, "periodic task failed");
        } else {
            tracing::debug!(entry = %e.name, task_id = %id, outcome, "periodic task finished");
        }
    }
    Ok(())
}
