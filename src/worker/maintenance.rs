//! Background loops of a worker: heartbeat (clock check, lease renewal, registry), and
//! the queues' upkeep (sweep of expired leases, promotion of delayed tasks that became
//! due), which one worker per queue does at a time. Expiry and due times are judged by
//! the scripts on Redis's clock; this host's clock only decides how long to sleep, and
//! the heartbeat reports how far it is off.

use super::{RunId, Shared};
use crate::broker::now_ms;
use rand::Rng;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

pub(crate) fn spawn_all(shared: Arc<Shared>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(heartbeat(shared.clone())),
        tokio::spawn(upkeep(shared)),
    ]
}

fn info_json(shared: &Shared) -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    serde_json::json!({
        "id": shared.opts.id,
        "host": host,
        "pid": std::process::id(),
        "queues": shared.opts.queues.iter().map(|q| q.name.clone()).collect::<Vec<_>>(),
        "concurrency": shared.opts.concurrency,
        "busy": shared.running.lock().unwrap().len(),
        "started_ms": shared.started_ms,
        "done": shared.done.load(Ordering::Relaxed),
        "clock_skew_ms": shared.clock_skew_ms.load(Ordering::Relaxed),
        "version": env!("CARGO_PKG_VERSION"),
        "problem": shared.health.current(),
        "stopping": shared.stopping.lock().unwrap().clone(),
    })
    .to_string()
}

/// A clock further off Redis's than this is reported (log, heartbeat, `ciq status`).
pub const CLOCK_SKEW_WARN_MS: i64 = 2000;

/// Measures this host's clock against Redis's (ms, positive = ahead); logs changes of
/// state once. A slow round trip makes the reading unreliable: then it is skipped.
async fn check_clock(shared: &Shared, was_skewed: &mut bool) {
    let before = now_ms();
    let Ok(redis_now) = shared.broker.redis_time().await else {
        return;
    };
    let after = now_ms();
    if after.saturating_sub(before) > 500 {
        return;
    }
    let skew = ((before + after) / 2) as i64 - redis_now as i64;
    shared.clock_skew_ms.store(skew, Ordering::Relaxed);
    let skewed = skew.abs() > CLOCK_SKEW_WARN_MS;
    if skewed && !*was_skewed {
        tracing::warn!(
            clock_skew_ms = skew,
            "this host's clock is {:.1} s {} the Redis server's; leases and due times follow Redis's clock, but this host's timestamps are off: sync its clock (chrony, systemd-timesyncd)",
            skew.abs() as f64 / 1000.0,
            if skew > 0 { "ahead of" } else { "behind" }
        );
    } else if !skewed && *was_skewed {
        tracing::info!(
            clock_skew_ms = skew,
            "this host's clock agrees with the Redis server's again"
        );
    }
    *was_skewed = skewed;
}

async fn heartbeat(shared: Arc<Shared>) {
    let mut was_skewed = false;
    // Renewals keep a steady beat (a slow round trip does not push the next one back):
    // each run's fencing deadlines are counted from its last renewal.
    let mut tick = tokio::time::interval(shared.opts.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        renew_leases(&shared).await;
        check_clock(&shared, &mut was_skewed).await;
        beat_now(&shared).await;
    }
}

/// Writes this worker's registry entry now (its info and "last seen", on Redis's clock,
/// as `ciq status` judges it).
pub(super) async fn beat_now(shared: &Shared) {
    let skew = shared.clock_skew_ms.load(Ordering::Relaxed);
    let seen = (now_ms() as i64 - skew).max(0) as u64;
    if let Err(e) = shared
        .broker
        .worker_heartbeat(&shared.opts.id, &info_json(shared), seen)
        .await
    {
        tracing::debug!(error = %e, "worker registry heartbeat failed");
    }
}

/// Renews the leases of this worker's runs, one script call per queue. A renewed run's
/// fencing deadlines move to a lease after the moment the renewal was sent, once the
/// renewal is confirmed (with `min_replicas`: a replica has it, so a failover keeps it);
/// a run the renewal reports superseded (recovered elsewhere, or canceled) is killed at
/// once, confirmed or not.
async fn renew_leases(shared: &Arc<Shared>) {
    let mut by_queue: HashMap<usize, Vec<(String, u64)>> = HashMap::new();
    for (run, l) in shared.leased.lock().unwrap().iter() {
        by_queue
            .entry(run.queue)
            .or_default()
            .push((l.id.clone(), run.token));
    }
    for (qi, runs) in by_queue {
        let q = &shared.queues[qi];
        let sent = Instant::now();
        match shared
            .broker
            .renew(q, &shared.opts.id, &runs, shared.opts.lease)
            .await
        {
            Ok(renewal) => {
                if let Some(e) = &renewal.unconfirmed {
                    tracing::warn!(error = %e, queue = %q.name, "lease renewal not confirmed by a replica; the runs' deadlines stay where they were (they are stopped if this lasts)");
                }
                let confirmed = renewal.unconfirmed.is_none();
                let lost: Vec<RunId> = renewal
                    .superseded
                    .into_iter()
                    .map(|token| RunId { queue: qi, token })
                    .collect();
                {
                    let mut leased = shared.leased.lock().unwrap();
                    for (_, token) in &runs {
                        let run = RunId {
                            queue: qi,
                            token: *token,
                        };
                        if lost.contains(&run) {
                            if let Some(l) = leased.remove(&run) {
                                tracing::warn!(id = %l.id, run = run.token, queue = %q.name, "lease lost: this run was superseded (its lease expired and the task was recovered, or it was canceled); stopping it");
                            }
                        } else if let Some(l) = leased.get_mut(&run).filter(|_| confirmed) {
                            l.renewed = l.renewed.max(sent);
                        }
                    }
                }
                for run in lost {
                    if let Some(t) = super::fencing::kill_run(
                        shared,
                        run,
                        "stopped by its worker: the run was superseded (lease lost)",
                    ) {
                        let _ = t.await;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, queue = %q.name, "lease renewal failed; retrying"),
        }
    }
}

/// One queue's share of the upkeep lease, as this worker believes it to be.
struct Upkeep {
    held: bool,
    renew_at: Instant,
    try_at: Instant,
    promote_at: Instant,
    sweep_at: Instant,
}

fn jittered(d: Duration) -> Duration {
    d + Duration::from_millis(rand::thread_rng().gen_range(0..=d.as_millis() as u64 / 2))
}

/// Promotion and sweeping, done for each queue by whichever worker holds its upkeep
/// lease; the others try to take the lease about once per lease period, so a holder
/// that stopped renewing is replaced within about 2.5 periods (a stopping one hands it
/// back at once).
async fn upkeep(shared: Arc<Shared>) {
    // At most 2/5 of a task lease: the others try about once per period (1 to 1.5 of
    // it), so a cut-off holder is replaced within 2.5 periods, no later than its tasks'
    // leases expire, and the new holder sweeps at once: a cut-off worker's tasks run
    // elsewhere within lease + sweep interval (docs/guarantees.md). One SET NX a try.
    let lease = shared.opts.upkeep_lease.min(shared.opts.lease * 2 / 5);
    let start = Instant::now();
    let mut st: Vec<Upkeep> = shared
        .queues
        .iter()
        .map(|_| Upkeep {
            held: false,
            renew_at: start,
            try_at: start + Duration::from_millis(rand::thread_rng().gen_range(0..200)),
            promote_at: start,
            sweep_at: start,
        })
        .collect();
    loop {
        for (q, s) in shared.queues.iter().zip(st.iter_mut()) {
            let now = Instant::now();
            if s.held && now >= s.renew_at {
                match shared.broker.upkeep_renew(q, &shared.opts.id, lease).await {
                    Ok(true) => s.renew_at = now + lease / 3,
                    Ok(false) => {
                        s.held = false;
                        s.try_at = now + jittered(lease);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "upkeep lease renewal failed");
                        report_access(&shared, &e);
                        s.renew_at = now + Duration::from_secs(1);
                    }
                }
            }
            if !s.held && now >= s.try_at {
                match shared.broker.upkeep_take(q, &shared.opts.id, lease).await {
                    Ok(true) => {
                        tracing::debug!(queue = %q.name, "took the queue's upkeep lease");
                        s.held = true;
                        s.renew_at = now + lease / 3;
                        s.promote_at = now;
                        s.sweep_at = now;
                    }
                    Ok(false) => s.try_at = now + jittered(lease),
                    Err(e) => {
                        tracing::debug!(error = %e, "upkeep lease attempt failed");
                        report_access(&shared, &e);
                        s.try_at = now + Duration::from_secs(1);
                    }
                }
            }
            if !s.held {
                continue;
            }
            if now >= s.promote_at {
                s.promote_at = now + promote(&shared, q).await;
            }
            if now >= s.sweep_at {
                sweep(&shared, q).await;
                s.sweep_at = now + shared.opts.sweep;
            }
        }
        let next = st
            .iter()
            .map(|s| {
                if s.held {
                    s.renew_at.min(s.promote_at).min(s.sweep_at)
                } else {
                    s.try_at
                }
            })
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::time::sleep_until(next.max(Instant::now() + Duration::from_millis(5)).into()).await;
    }
}

/// An idle worker claims rarely, so an ACL change that stops it working shows first
/// here: wake the fetch loop, whose failing claim records the problem for `ciq status`
/// (and whose next successful claim clears it).
fn report_access(shared: &Shared, e: &crate::broker::Error) {
    if e.is_access() {
        shared.wake.notify_one();
    }
}

/// Hands back the upkeep leases this worker holds (on a graceful stop).
pub(crate) async fn release(shared: &Shared) {
    for q in &shared.queues {
        let _ = shared.broker.upkeep_release(q, &shared.opts.id).await;
    }
}

async fn sweep(shared: &Shared, q: &crate::broker::QueueKeys) {
    match shared
        .broker
        .sweep(q, shared.opts.max_deliveries, Duration::ZERO)
        .await
    {
        Ok((0, 0)) => {}
        Ok((recovered, dead)) => {
            shared.metrics.recovered(&q.name, recovered + dead);
            tracing::warn!(queue = %q.name, recovered, dead, "recovered tasks whose worker stopped renewing their lease")
        }
        Err(e) => tracing::debug!(error = %e, "sweep failed"),
    }
}

/// Promotes what is due (judged by the script on Redis's clock); returns how long until
/// it should look again (at most 1 s). With nothing delayed, one `EXISTS` is the check.
async fn promote(shared: &Shared, q: &crate::broker::QueueKeys) -> Duration {
    let second = Duration::from_secs(1);
    let wait = match shared.broker.has_delayed(q).await {
        Ok(false) => second,
        Ok(true) => match shared.broker.promote(q).await {
            Ok((_, Some(due_in))) => due_in.min(second),
            Ok(_) => second,
            Err(e) => {
                tracing::debug!(error = %e, "promote failed");
                second
            }
        },
        Err(e) => {
            tracing::debug!(error = %e, "promote check failed");
            second
        }
    };
    wait.max(Duration::from_millis(5))
}
