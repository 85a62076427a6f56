//! Background loops of a worker: heartbeat (lease renewal + registry), sweep of expired
//! leases, and promotion of delayed tasks that became due.

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
        "version": env!("CARGO_PKG_VERSION"),
        "problem": shared.health.current(),
    })
    .to_string()
}

async fn heartbeat(shared: Arc<Shared>) {
    loop {
        let now = now_ms();
        let mut by_queue: HashMap<String, (Arc<crate::broker::QueueKeys>, Vec<String>)> =
            HashMap::new();
        for (id, q) in shared.leased.lock().unwrap().iter() {
            by_queue
                .entry(q.name.clone())
                .or_insert_with(|| (q.clone(), vec![]))
                .1
                .push(id.clone());
        }
        for (_, (q, ids)) in by_queue {
            match shared
                .broker
                .renew(&q, &shared.opts.id, &ids, shared.opts.lease, now)
                .await
            {
                Ok(lost) => {
                    for id in lost {
                        tracing::warn!(id = %id, queue = %q.name, "lease lost (expired and recovered elsewhere); the task may run twice");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "heartbeat failed; retrying"),
            }
        }
        if let Err(e) = shared
            .broker
            .worker_heartbeat(&shared.opts.id, &info_json(&shared), now)
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
            match shared
                .broker
                .sweep(q, shared.opts.max_deliveries, now_ms())
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
    }
}

async fn promote(shared: Arc<Shared>) {
    loop {
        let now = now_ms();
        let mut next = now + 1000;
        for q in &shared.queues {
            match shared.broker.promote(q, now).await {
                Ok((_, Some(due))) => next = next.min(due),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "promote failed"),
            }
        }
        let wait = next.saturating_sub(now_ms()).clamp(5, 1000);
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
}
