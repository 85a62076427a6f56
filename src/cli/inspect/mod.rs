//! `ciq inspect active|dead|scheduled|task`: what runs now, what gave up, what runs
//! later, and one task's whole story, read from Redis.

pub(super) mod scheduled;
pub(super) mod task;

use crate::broker::now_ms;
use crate::broker::tasks::State;
use crate::cli::{CliResult, Ctx};
use crate::output;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum InspectCommand {
    /// Every running task: id, task, queue, args (secrets redacted), worker, started,
    /// runtime, attempt, lease expiry.
    Active(QueueFilter),
    /// Dead tasks with their reason and last error.
    Dead(DeadArgs),
    /// Periodic entries (schedule, next/last run, last outcome, lease holder) and
    /// delayed or retrying tasks (id, task, queue, due time, attempt).
    Scheduled(scheduled::ScheduledArgs),
    /// One task's state and history: enqueued, claimed (worker, attempt), retried (error,
    /// next run), done (output tail) or dead (reason), with times; kept for
    /// [worker] history_retention after it ends.
    Task(task::TaskArgs),
}

#[derive(Debug, clap::Args)]
pub struct QueueFilter {
    /// Only this queue.
    #[arg(long)]
    pub queue: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DeadArgs {
    /// Only this queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// At most this many per queue (oldest first).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

/// `inspect active --json` row (stable schema).
#[derive(Debug, Serialize)]
pub struct ActiveRow {
    pub id: String,
    pub task: String,
    pub queue: String,
    pub args: serde_json::Map<String, serde_json::Value>,
    pub worker: String,
    /// The run's claim (fencing) token: a task run again after a lost lease gets a new one.
    pub run: u64,
    pub started_at: String,
    pub runtime_s: f64,
    pub attempt: u32,
    pub lease_expires_at: String,
}

/// `inspect dead --json` row (stable schema).
#[derive(Debug, Serialize)]
pub struct DeadRow {
    pub id: String,
    pub task: String,
    pub queue: String,
    pub args: serde_json::Map<String, serde_json::Value>,
    pub died_at: String,
    pub attempt: u32,
    pub reason: String,
    pub last_error: String,
}

async fn queues(
    ctx: &Ctx,
    only: &Option<String>,
) -> CliResult<(crate::broker::Broker, Vec<String>)> {
    let broker = ctx.broker().await?;
    let qs = match only {
        Some(q) => {
            crate::cli::known_queue::require_known(&broker, ctx, std::slice::from_ref(q)).await?;
            vec![q.clone()]
        }
        None => broker.known_queues(&ctx.config.queue_names()).await?,
    };
    Ok((broker, qs))
}

pub async fn run(cmd: InspectCommand, ctx: &Ctx) -> CliResult<ExitCode> {
    match cmd {
        InspectCommand::Active(f) => active(f, ctx).await,
        InspectCommand::Dead(a) => dead(a, ctx).await,
        InspectCommand::Scheduled(a) => scheduled::run(a, ctx).await,
        InspectCommand::Task(a) => task::run(a, ctx).await,
    }
}

async fn active(f: QueueFilter, ctx: &Ctx) -> CliResult<ExitCode> {
    let (broker, qs) = queues(ctx, &f.queue).await?;
    // Claim times are on Redis's clock.
    let now = broker.redis_time().await.unwrap_or_else(|_| now_ms());
    let mut rows = vec![];
    for q in qs {
        for t in broker.active(&q).await? {
            let (task, args, attempt) = match &t.envelope {
                Some(e) => (
                    e.task.clone(),
                    crate::secrets::redact_args(&e.args),
                    e.attempt,
                ),
                None => ("?".into(), Default::default(), 0),
            };
            rows.push(ActiveRow {
                id: t.id,
                task,
                queue: t.queue,
                args,
                worker: t.worker,
                run: t.run,
                started_at: output::ts(t.claimed_at_ms),
                runtime_s: now.saturating_sub(t.claimed_at_ms) as f64 / 1000.0,
                attempt,
                lease_expires_at: output::ts(t.lease_expires_ms),
            });
        }
    }
    output::list(
        ctx.json,
        &rows,
        Some("no task is running"),
        &[
            "id",
            "task",
            "queue",
            "args",
            "worker",
            "started",
            "runtime",
            "attempt",
            "lease expires",
        ],
        |r| {
            vec![
                r.id.clone(),
                r.task.clone(),
                r.queue.clone(),
                serde_json::Value::Object(r.args.clone()).to_string(),
                r.worker.clone(),
                r.started_at.clone(),
                output::age(r.runtime_s),
                r.attempt.to_string(),
                r.lease_expires_at.clone(),
            ]
        },
    );
    Ok(ExitCode::SUCCESS)
}

async fn dead(a: DeadArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    let (broker, qs) = queues(ctx, &a.queue).await?;
    let mut rows = vec![];
    for q in qs {
        for t in broker.stored(&q, State::Dead, a.limit as isize).await? {
            let e = t.envelope.as_ref();
            rows.push(DeadRow {
                id: t.id.clone(),
                task: e
                    .map(|e| e.task.clone())
                    .unwrap_or_else(|| "(undecodable)".into()),
                queue: t.queue.clone(),
                args: e
                    .map(|e| crate::secrets::redact_args(&e.args))
                    .unwrap_or_default(),
                died_at: output::ts(t.score_ms),
                attempt: e.map(|e| e.attempt).unwrap_or(0),
                reason: e
                    .and_then(|e| e.reason.clone())
                    .unwrap_or_else(|| "undecodable message".into()),
                last_error: crate::secrets::redact_url(
                    &e.and_then(|e| e.last_error.clone())
                        .or(t.raw.clone())
                        .unwrap_or_default(),
                ),
            });
        }
    }
    output::list(
        ctx.json,
        &rows,
        Some("no dead tasks"),
        &[
            "id",
            "task",
            "queue",
            "died",
            "attempt",
            "reason",
            "last error",
        ],
        |r| {
            vec![
                r.id.clone(),
                r.task.clone(),
                r.queue.clone(),
                r.died_at.clone(),
                r.attempt.to_string(),
                r.reason.clone(),
                r.last_error.chars().take(120).collect(),
            ]
        },
    );
    Ok(ExitCode::SUCCESS)
}
