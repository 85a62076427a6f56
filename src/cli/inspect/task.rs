//! `ciq inspect task ID` / `--unique KEY`: one task's state and history (enqueued,
//! claimed, retried, done or dead, with times, errors and the output tail).

use crate::broker::history::{Event, TaskRecord};
use crate::broker::pending::PendingLookup;
use crate::broker::Broker;
use crate::cli::{CliError, CliResult, Ctx};
use crate::output;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ciq inspect task 01JD3W6ZJ2K9Q8X7V5T4R3P2N1\n  ciq inspect task --unique start_test:4211 --json"
)]
pub struct TaskArgs {
    #[command(flatten)]
    pub task: TaskRef,
}

/// Which task a command means (`inspect task`, `cancel`): its id, or the unique key it
/// holds (or last held), maybe in one queue.
#[derive(Debug, clap::Args)]
pub struct TaskRef {
    /// The task id `ciq enqueue` printed.
    #[arg(required_unless_present = "unique", conflicts_with = "unique")]
    pub id: Option<String>,
    /// The task holding (or that last held) this unique key, e.g. start_test:4211.
    #[arg(long, value_name = "KEY")]
    pub unique: Option<String>,
    /// Only look in this queue.
    #[arg(long)]
    pub queue: Option<String>,
}

impl TaskRef {
    /// The task as `find` looks it up.
    pub fn named(&self) -> Named<'_> {
        Named {
            id: self.id.as_deref(),
            unique: self.unique.as_deref(),
            queue: self.queue.as_deref(),
        }
    }
}

/// `inspect task --json` (stable schema; times are RFC 3339 UTC plus epoch ms).
#[derive(Debug, Serialize)]
pub struct TaskView {
    pub id: String,
    pub queue: String,
    pub task: Option<String>,
    /// pending, scheduled, running, retrying, deferred, done, dead, failed, purged.
    pub state: String,
    /// Secret-looking values redacted; null when the history no longer has the message.
    pub args: Option<serde_json::Map<String, serde_json::Value>>,
    pub attempt: Option<u32>,
    pub max_retries: Option<u32>,
    pub unique_key: Option<String>,
    /// Running: the worker and when it claimed the task.
    pub worker: Option<String>,
    pub claimed_at: Option<String>,
    /// Scheduled or retrying: when it runs next.
    pub next_at: Option<String>,
    pub last_error: Option<String>,
    /// Dead: why.
    pub reason: Option<String>,
    /// Done: the output tail the task returned.
    pub output: Option<String>,
    pub events: Vec<EventRow>,
}

#[derive(Debug, Serialize)]
pub struct EventRow {
    pub at: String,
    pub at_ms: u64,
    pub event: String,
    pub worker: Option<String>,
    pub attempt: Option<u32>,
    pub error: Option<String>,
    pub reason: Option<String>,
    pub next_at: Option<String>,
    pub output: Option<String>,
}

impl EventRow {
    fn from(e: &Event) -> Self {
        EventRow {
            at: output::ts(e.at),
            at_ms: e.at,
            event: e.ev.clone(),
            worker: e.worker.clone(),
            attempt: e.attempt,
            error: e.error.clone(),
            reason: e.reason.clone(),
            next_at: e.next_at.or(e.due_at).map(output::ts),
            output: e.output.clone(),
        }
    }
}

/// Builds the view of one record (also used by `enqueue --wait`'s messages).
pub fn view(r: &TaskRecord) -> TaskView {
    let env = r.envelope();
    let l = &r.live;
    TaskView {
        id: r.id.clone(),
        queue: r.queue.clone(),
        task: r.task(),
        state: r.state().into(),
        args: env.map(|e| crate::secrets::redact_args(&e.args)),
        attempt: r.attempt(),
        max_retries: env.map(|e| e.max_retries),
        unique_key: env.and_then(|e| e.unique_key.clone()),
        worker: l.active.as_ref().map(|a| a.0.clone()),
        claimed_at: l.active.as_ref().map(|a| output::ts(a.1)),
        next_at: l.scheduled_at.or(l.retry_at).map(output::ts),
        last_error: r.last_error().map(String::from),
        reason: r
            .events
            .iter()
            .rev()
            .find_map(|e| e.reason.clone())
            .or_else(|| env.and_then(|e| e.reason.clone())),
        output: r.events.iter().rev().find_map(|e| e.output.clone()),
        events: with_running_claim(r),
    }
}

/// The history rows; for a running task whose claim is not recorded yet (claims are
/// written to the history with the run's outcome, in one batch), the live claim as the
/// last row, so a running task always shows who claimed it and when.
fn with_running_claim(r: &TaskRecord) -> Vec<EventRow> {
    let mut rows: Vec<EventRow> = r.events.iter().map(EventRow::from).collect();
    if let Some((worker, at, env)) = r.live.active.as_ref().filter(|a| a.1 > 0) {
        let recorded = r
            .events
            .iter()
            .any(|e| e.ev == "claimed" && e.at >= *at && e.worker.as_deref() == Some(worker));
        if !recorded {
            rows.push(EventRow {
                at: output::ts(*at),
                at_ms: *at,
                event: "claimed".into(),
                worker: Some(worker.clone()),
                attempt: env.as_ref().map(|e| e.attempt).or_else(|| r.attempt()),
                error: None,
                reason: None,
                next_at: None,
                output: None,
            });
        }
    }
    rows
}

/// A task named on the command line: by id, or by the unique key it holds (or last
/// held), in one queue or every known one.
pub struct Named<'a> {
    pub id: Option<&'a str>,
    pub unique: Option<&'a str>,
    pub queue: Option<&'a str>,
}

/// Finds a named task, with how messages name it (`task ID`, `a task with unique key
/// "K"`); a usage error when neither an id nor a key is given.
pub async fn find(
    broker: &Broker,
    ctx: &Ctx,
    named: Named<'_>,
) -> CliResult<(String, Option<TaskRecord>)> {
    find_by(broker, ctx, named, PendingLookup::Scan).await
}

/// `find`, reading a pending list (for a pending task without a record) only as far as
/// `how` allows: the web's look-ups stay bounded.
pub async fn find_by(
    broker: &Broker,
    ctx: &Ctx,
    named: Named<'_>,
    how: PendingLookup,
) -> CliResult<(String, Option<TaskRecord>)> {
    let what = match (named.id, named.unique) {
        (Some(id), _) => format!("task {id}"),
        (None, Some(u)) => format!("a task with unique key {u:?}"),
        (None, None) => return Err(CliError::usage("give a task id or --unique KEY")),
    };
    let queues = match named.queue {
        Some(q) => vec![q.to_string()],
        None => broker.known_queues(&ctx.config.queue_names()).await?,
    };
    let id = match (named.id, named.unique) {
        (Some(id), _) => id.to_string(),
        (None, Some(u)) => match broker.unique_task(u, &queues).await? {
            Some(id) => id,
            None => return Ok((what, None)),
        },
        (None, None) => return Ok((what, None)),
    };
    Ok((what, broker.task_record_by(&id, &queues, how).await?))
}

pub async fn run(a: TaskArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    let broker = ctx.broker().await?;
    let (what, rec) = find(&broker, ctx, a.task.named()).await?;
    let Some(rec) = rec else {
        return Err(CliError::failure(format!("no record of {what}")).with_hint(format!(
            "histories are kept for [worker] history_retention ({}) after a task ends; check the id, or try --queue",
            ctx.config.worker.history_retention
        )));
    };
    let v = view(&rec);
    if ctx.json {
        output::json(&v);
    } else {
        output::print_line(render(&v).trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

fn render(v: &TaskView) -> String {
    let mut out = format!(
        "task {}  {}  queue {}  {}\n",
        v.id,
        v.task.as_deref().unwrap_or("?"),
        v.queue,
        v.state.to_uppercase()
    );
    let mut field = |k: &str, val: Option<String>| {
        if let Some(val) = val {
            out.push_str(&format!("  {k:<11}{val}\n"));
        }
    };
    field(
        "args",
        v.args
            .as_ref()
            .map(|a| serde_json::Value::Object(a.clone()).to_string()),
    );
    field(
        "attempt",
        v.attempt.map(|a| match v.max_retries {
            Some(m) => format!("{a} of {}", m + 1),
            None => a.to_string(),
        }),
    );
    field("unique key", v.unique_key.clone());
    field(
        "worker",
        v.worker
            .as_ref()
            .map(|w| format!("{w} since {}", v.claimed_at.as_deref().unwrap_or("?"))),
    );
    field("next run", v.next_at.clone());
    field("reason", v.reason.clone());
    field("last error", v.last_error.as_deref().map(one_line));
    field("output", v.output.as_deref().map(one_line));
    out.push_str("history\n");
    for e in &v.events {
        let mut d = vec![];
        if let Some(w) = &e.worker {
            d.push(format!("by {w}"));
        }
        if let Some(a) = e.attempt {
            d.push(format!("attempt {a}"));
        }
        if let Some(r) = &e.reason {
            d.push(r.clone());
        }
        if let Some(x) = &e.error {
            d.push(format!("error: {}", one_line(x)));
        }
        if let Some(n) = &e.next_at {
            d.push(format!("next {n}"));
        }
        out.push_str(&format!("  {}  {:<13} {}\n", e.at, e.event, d.join("; ")));
    }
    out
}

/// The last line of a multi-line text, shortened for a table cell.
fn one_line(s: &str) -> String {
    let line = s.trim_end().lines().last().unwrap_or("");
    let n = line.chars().count();
    if n > 100 {
        format!("…{}", line.chars().skip(n - 99).collect::<String>())
    } else {
        line.to_string()
    }
}
