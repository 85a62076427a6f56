//! Running one claimed task: decode it (poison goes to dead), run its handler under the
//! time limits with panics caught, and settle the outcome (see `settle`).

use super::handler::{Outcome, TaskContext, TaskHandler};
use super::settle::{self, Ending};
use super::{Lease, RunId, Running, Shared};
use crate::broker::Envelope;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;

/// Decodes a claimed message and spawns its handler; poison goes straight to dead.
/// `sent`: when the claim was sent (the lease runs from no earlier than that).
pub(crate) fn start_task(
    shared: &Arc<Shared>,
    run: RunId,
    sent: Instant,
    raw: String,
    permit: OwnedSemaphorePermit,
) {
    // Parse once; only a message that does not decode needs its id dug out of the raw text.
    let decoded = Envelope::from_json(&raw);
    let id = match &decoded {
        Ok(e) => e.id.clone(),
        Err(_) => id_of(&raw),
    };
    shared
        .leased
        .lock()
        .unwrap()
        .insert(run, Lease { id, renewed: sent });
    let qname = &shared.queues[run.queue].name;
    let (env, handler) = match route(shared, decoded, &raw, qname) {
        Routed::Run(env, handler) => (env, handler),
        Routed::Poison(env, reason) => {
            settle::settle(
                shared,
                run,
                Arc::new(env),
                Ending::Poison(reason),
                Some(permit),
            );
            return;
        }
    };
    // A task delivered again (recovered, handed back, fenced) may still have an earlier
    // run here, if this worker's clock let that run outlive its lease: end that run first.
    let earlier = if env.deliveries > 0 {
        let running = shared.running.lock().unwrap();
        running
            .iter()
            .find(|(_, r)| r.env.id == env.id)
            .map(|(k, _)| *k)
    } else {
        None
    };
    let earlier = earlier.and_then(|k| {
        super::fencing::kill_run(
            shared,
            k,
            "superseded by a newer run of the same task, which starts once this one is gone",
        )
    });
    let (stop_at, kill_at) = crate::runner::fence::deadlines(sent, shared.opts.lease);
    let (fence, fence_rx) = tokio::sync::watch::channel(crate::runner::fence::FenceState {
        stop: false,
        stop_at,
        kill_at,
    });
    // One envelope per run, shared by its entry in `running` and the handler (not copied):
    // it is back to one holder by the time the run settles.
    let env = Arc::new(env);
    shared.running.lock().unwrap().insert(
        run,
        Running {
            env: env.clone(),
            started: Instant::now(),
            task: None,
            fence,
            fenced: None,
        },
    );
    let s = shared.clone();
    let jh = tokio::spawn(async move {
        if let Some(old) = earlier {
            let _ = old.await;
        }
        // A worker stopped between the claim and here (SIGSTOP) may be past the run's
        // stop time: the task may run elsewhere already. Then it never starts here.
        let started = Instant::now();
        if started >= fence_rx.borrow().stop_at {
            drop(env);
            if let Some(r) = s.running.lock().unwrap().get_mut(&run) {
                r.fenced = Some(
                    "not started: its worker stalled between the claim and the start, past the stop time"
                        .into(),
                );
            }
            let why = Outcome::Retry {
                error: String::new(),
                after: None,
            };
            complete(&s, run, why, permit, 0.0);
            return;
        }
        // Boxed: the spawned task stays small, so its (cache-aligned) allocation is a
        // small one too; the handler's state goes in an ordinary allocation.
        let outcome = Box::pin(execute(&s, handler, env, fence_rx, started)).await;
        let secs = started.elapsed().as_secs_f64();
        complete(&s, run, outcome, permit, secs);
    });
    if let Some(r) = shared.running.lock().unwrap().get_mut(&run) {
        r.task = Some(jh);
    }
}

/// Where a claimed message goes: to the handler of its task, or to dead as poison.
enum Routed {
    Run(Envelope, Arc<dyn TaskHandler>),
    /// The message (a stand-in when it does not decode) and why it cannot run.
    Poison(Envelope, String),
}

/// Poison: a message that does not decode, or whose task no handler takes.
fn route(shared: &Shared, decoded: Result<Envelope, String>, raw: &str, queue: &str) -> Routed {
    let env = match decoded {
        Ok(env) => env,
        Err(reason) => return Routed::Poison(stand_in_envelope(raw, queue), reason),
    };
    match shared.handlers.iter().find(|h| h.handles(&env.task)) {
        Some(h) => Routed::Run(env, h.clone()),
        None => {
            let reason = format!("unknown task {:?}", env.task);
            Routed::Poison(env, reason)
        }
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

/// Runs the handler; `start`: when the run started (its time limits count from there).
async fn execute(
    shared: &Arc<Shared>,
    handler: Arc<dyn TaskHandler>,
    env: Arc<Envelope>,
    fence: crate::runner::fence::Fence,
    start: Instant,
) -> Outcome {
    let task_cfg = shared.config.task(&env.task);
    let ms = |v: Option<u64>, c: Option<crate::config::Dur>| {
        v.map(Duration::from_millis).or(c.map(|d| d.0))
    };
    let soft = ms(env.soft_limit_ms, task_cfg.and_then(|t| t.soft_time_limit));
    let hard = ms(env.hard_limit_ms, task_cfg.and_then(|t| t.time_limit));
    let ctx = TaskContext {
        soft_deadline: soft.map(|d| start + d),
        hard_deadline: hard.map(|d| start + d),
        envelope: env,
        broker: shared.broker.clone(),
        config: shared.config.clone(),
        fence: Some(fence.clone()),
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
    // A stopped run gets until its kill time to end (an `exec` process group has had
    // SIGTERM); then it is dropped here, which kills what is left of it.
    let mut stop = fence;
    let run = async {
        tokio::select! {
            o = run => o,
            _ = async {
                crate::runner::fence::stopped(&mut stop).await;
                let kill_at = stop.borrow().kill_at;
                tokio::time::sleep_until(kill_at.into()).await;
            } => Outcome::Retry { error: "stopped by its worker".into(), after: None },
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
    let mut fut = std::pin::pin!(fut);
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

/// Settles a finished handler's outcome, unless shutdown already took the task back.
fn complete(
    shared: &Arc<Shared>,
    run: RunId,
    outcome: Outcome,
    permit: OwnedSemaphorePermit,
    secs: f64,
) {
    // A deadline that passed unnoticed (this worker stalled: SIGSTOPped, starved) is
    // applied first: a run that ended after its stop time is fenced, so the exit of a
    // process its supervisor stopped is never taken for the task's outcome.
    // (The runs it kills are not awaited: this is a run's own ending.)
    let _ = super::fencing::check_due(shared);
    let Some(r) = shared.running.lock().unwrap().remove(&run) else {
        return;
    };
    let ending = match r.fenced {
        Some(why) => Ending::Fenced(why),
        None => Ending::Ran { outcome, secs },
    };
    settle::settle(shared, run, r.env, ending, Some(permit));
}
