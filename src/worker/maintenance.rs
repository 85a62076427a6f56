//! Background loops of a worker: heartbeat (clock check, lease renewal, registry), sweep
//! of expired leases, and promotion of delayed tasks that became due. Expiry and due
//! times are judged by the scripts on Redis's clock; this host's clock only decides how
//! long to sleep, and the heartbeat reports how far it is off.

use super::Shared;
use crate::broker::now_ms;
use rand::Rng;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

pub(crate) fn spawn_all(shared: Arc<Shared>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(heartbeat(shared.clone())),
        tokio::spawn(sweep(shared.clone())),
        tokio::spawn(promote(shared)),
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
    loop {
        check_clock(&shared, &mut was_skewed).await;
        type Runs = (Arc<crate::broker::QueueKeys>, Vec<(String, u64)>);
        let mut by_queue: HashMap<String, Runs> = HashMap::new();
        for (token, (q, id)) in shared.leased.lock().unwrap().iter() {
            by_queue
                .entry(q.name.clone())
                .or_insert_with(|| (q.clone(), vec![]))
                .1
                .push((id.clone(), *token));
        }
        for (_, (q, runs)) in by_queue {
            match shared
                .broker
                .renew(&q, &shared.opts.id, &runs, shared.opts.lease)
                .await
            {
                Ok(lost) => {
                    let mut leased = shared.leased.lock().unwrap();
                    for token in lost {
                        // Stop renewing it: reported once, here; its outcome will be refused.
                        if let Some((_, id)) = leased.remove(&token) {
                            tracing::warn!(id = %id, run = token, queue = %q.name, "lease lost: this run was superseded (its lease expired and the task was recovered); the task may run twice");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "heartbeat failed; retrying"),
            }
        }
        // The registry's "last seen" is on Redis's clock, as `ciq status` judges it.
        let skew = shared.clock_skew_ms.load(Ordering::Relaxed);
        let seen = (now_ms() as i64 - skew).max(0) as u64;
        if let Err(e) = shared
            .broker
            .worker_heartbeat(&shared.opts.id, &info_json(&shared), seen)
            .await
        {
            tracing::debug!(error = %e, "worker registry heartbeat failed");
        }
        tokio::time::sleep(shared.opts.heartbeat).await;
    }
}

async fn sweep(shared: Arc<Shared>) {
    loop {
        let jitter = rand::thread_rng().gen_range(0..=shared.opts.sweep.as_millis() as u64 / 4);
        tokio::time::sleep(shared.opts.sweep + Duration::from_millis(jitter)).await;
        for q in &shared.queues {
            match shared.broker.sweep(q, shared.opts.max_deliveries).await {
                Ok((0, 0)) => {}
                Ok((recovered, dead)) => {
                    shared.metrics.recovered(&q.name, recovered + dead);
                    tracing::warn!(queue = %q.name, recovered, dead, "recovered tasks whose worker stopped renewing their lease")
                }
                Err(e) => tracing::debug!(error = %e, "sweep failed"),
            }
        }
    }
}

async fn promote(shared: Arc<Shared>) {
    loop {
        let mut wait = Duration::from_secs(1);
        for q in &shared.queues {
            match shared.broker.promote(q).await {
                Ok((_, Some(due_in))) => wait = wait.min(due_in),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "promote failed"),
            }
        }
        tokio::time::sleep(wait.max(Duration::from_millis(5))).await;
    }
}
