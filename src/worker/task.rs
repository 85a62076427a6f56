//! Running one claimed task: decode it (poison goes to dead), run its handler under the
//! time limits with panics caught, and hand the outcome to the finisher.

use super::handler::{Outcome, TaskContext, TaskHandler};
use super::{finisher, policy, Running, Shared};
use crate::broker::{self, Envelope, QueueKeys};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;

/// Decodes a claimed message and spawns its handler; poison goes straight to dead.
pub(crate) fn start_task(
    shared: &Arc<Shared>,
    q: Arc<QueueKeys>,
    token: u64,
    raw: String,
    permit: OwnedSemaphorePermit,
) {
    // Parse once; only a message that does not decode needs its id dug out of the raw text.
    let decoded = Envelope::from_json(&raw);
    let id = match &decoded {
        Ok(e) => e.id.clone(),
        Err(_) => id_of(&raw),
    };
    shared.leased.lock().unwrap().insert(token, (q.clone(), id));
    let env = match decoded {
        Ok(e) => e,
        Err(reason) => {
            let env = stand_in_envelope(&raw, &q.name);
            tracing::warn!(id = %env.id, queue = %q.name, %reason, "poison message sent to dead");
            let f = policy::poison(env, token, reason);
            finisher::send(shared, &q, f, None, permit);
            return;
        }
    };
    let Some(handler) = shared
        .handlers
        .iter()
        .find(|h| h.handles(&env.task))
        .cloned()
    else {
        let reason = format!("unknown task {:?}", env.task);
        tracing::warn!(id = %env.id, queue = %q.name, %reason, "poison message sent to dead");
        let f = policy::poison(env, token, reason);
        finisher::send(shared, &q, f, None, permit);
        return;
    };
    shared.running.lock().unwrap().insert(
        token,
        Running {
            queue: q.clone(),
            env: env.clone(),
            abort: None,
        },
    );
    let s = shared.clone();
    let jh = tokio::spawn(async move {
        let started = Instant::now();
        let outcome = execute(&s, handler, env.clone()).await;
        let secs = started.elapsed().as_secs_f64();
        complete(&s, q, token, env, outcome, permit, secs);
    });
    if let Some(r) = shared.running.lock().unwrap().get_mut(&token) {
        r.abort = Some(jh.abort_handle());
    }
}

/// The id the claim script read; a stand-in when the message is not even JSON.
fn id_of(raw: &str) -> String {
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(String::from))
        .unwrap_or_else(|| {
            raw.strip_prefix("{\"v\":1,\"id\":\"")
                .and_then(|r| r.split('"').next())
                .unwrap_or("?")
                .to_string()
        })
}

fn stand_in_envelope(raw: &str, queue: &str) -> Envelope {
    let v: serde_json::Value = serde_json::from_str(raw).unwrap_or_default();
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(String::from);
    Envelope {
        id: id_of(raw),
        unique_key: s("unique_key"),
        deliveries: 1,
        last_error: Some(raw.chars().take(500).collect()),
        ..Envelope::new(
            &s("task").unwrap_or_else(|| "(malformed)".into()),
            queue,
            Default::default(),
            0,
        )
    }
}

async fn execute(shared: &Arc<Shared>, handler: Arc<dyn TaskHandler>, env: Envelope) -> Outcome {
    let task_cfg = shared.config.task(&env.task);
    let ms = |v: Option<u64>, c: Option<crate::config::Dur>| {
        v.map(Duration::from_millis).or(c.map(|d| d.0))
    };
    let soft = ms(env.soft_limit_ms, task_cfg.and_then(|t| t.soft_time_limit));
    let hard = ms(env.hard_limit_ms, task_cfg.and_then(|t| t.time_limit));
    let start = Instant::now();
    let ctx = TaskContext {
        soft_deadline: soft.map(|d| start + d),
        hard_deadline: hard.map(|d| start + d),
        envelope: env,
        broker: shared.broker.clone(),
        config: shared.config.clone(),
    };
    let fut = std::panic::AssertUnwindSafe(handler.run(&ctx));
    let run = async {
        match futures_catch(fut).await {
            Ok(o) => o,
            Err(msg) => Outcome::Retry {
                error: format!("handler panicked: {msg}"),
                after: None,
            },
        }
    };
    match hard {
        Some(limit) => match tokio::time::timeout(limit, run).await {
            Ok(o) => o,
            Err(_) => Outcome::Retry {
                error: format!(
                    "hard time limit ({}) exceeded",
                    humantime::format_duration(limit)
                ),
                after: None,
            },
        },
        None => run.await,
    }
}

/// Runs a future, turning a panic into an error message (the worker keeps going).
async fn futures_catch<F: std::future::Future>(
    fut: std::panic::AssertUnwindSafe<F>,
) -> Result<F::Output, String> {
    let mut fut = Box::pin(fut);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(p) => std::task::Poll::Ready(Err(p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into()))),
        }
    })
    .await
}

/// Records a finished handler's outcome, unless shutdown already took the task back.
fn complete(
    shared: &Arc<Shared>,
    q: Arc<QueueKeys>,
    token: u64,
    env: Envelope,
    outcome: Outcome,
    permit: OwnedSemaphorePermit,
    secs: f64,
) {
    if shared.running.lock().unwrap().remove(&token).is_none() {
        return;
    }
    let task_name = env.task.clone();
    let task_cfg = shared.config.task(&env.task);
    let notify = env.notify;
    // A task recovered after a lost lease (or handed back at a stop): its fate is worth a line.
    let recovered = env.deliveries > 0;
    let f = policy::finish_for(env, token, &outcome, task_cfg);
    let label = match (&outcome, f.kind) {
        (Outcome::Done(_), _) => "done",
        (_, broker::ops::FinishKind::Retry) => "retried",
        (_, broker::ops::FinishKind::Failed) => "failed",
        _ => "dead",
    };
    shared.metrics.record(&task_name, &q.name, label, secs);
    match (&outcome, f.kind) {
        (Outcome::Done(_), _) => {
            shared.done.fetch_add(1, Ordering::Relaxed);
            if recovered {
                tracing::info!(id = %f.id, run = f.token, queue = %q.name, "task done (an earlier run of it was interrupted)");
            } else {
                tracing::debug!(id = %f.id, run = f.token, queue = %q.name, "task done");
            }
        }
        (_, broker::ops::FinishKind::Retry) => {
            shared.retried.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(id = %f.id, run = f.token, queue = %q.name, error = %last_error(&f), "task failed; will retry");
        }
        _ => {
            shared.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(id = %f.id, run = f.token, queue = %q.name, error = %last_error(&f), "task failed; moved to dead");
        }
    }
    let outcome_json = (notify && f.kind != broker::ops::FinishKind::Retry).then(|| {
        let (state, error) = match &outcome {
            Outcome::Done(_) => ("done", None),
            Outcome::Retry { error, .. } | Outcome::Fail { error } => {
                ("dead", Some(crate::secrets::redact_url(error)))
            }
        };
        let result = match &outcome {
            Outcome::Done(r) => r.as_deref().map(crate::secrets::redact_url),
            _ => None,
        };
        serde_json::json!({"id": f.id, "state": state, "error": error, "result": result})
            .to_string()
    });
    finisher::send(shared, &q, f, outcome_json, permit);
}

fn last_error(f: &broker::ops::Finish) -> String {
    Envelope::from_json(&f.envelope)
        .ok()
        .and_then(|e| e.last_error)
        .unwrap_or_default()
}
