//! What runs a task: a `TaskHandler` says which task names it knows and returns an
//! `Outcome` that tells the worker what happens next (done, retry, or fail).

use crate::broker::{Broker, Envelope};
use crate::config::Config;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What happens next to a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished; the text (if any) is kept for `enqueue --wait`.
    Done(Option<String>),
    /// Try again later (after `after`, or the task's backoff), while retries remain.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Give up now: the task goes to dead with this error.
    Fail { error: String },
    /// Not now, and not a failure: run it again after `after` (the thing it waits for,
    /// e.g. a build artifact or cloud capacity, is not ready). Does not use up an attempt.
    Defer { reason: String, after: Duration },
}

/// Everything a handler may use while running one task.
pub struct TaskContext {
    /// The run's message (shared with the worker's record of the run, not copied).
    pub envelope: Arc<Envelope>,
    pub broker: Arc<Broker>,
    pub config: Arc<Config>,
    pub soft_deadline: Option<Instant>,
    pub hard_deadline: Option<Instant>,
    /// The worker's hold on this run: a run told to stop must end (see `runner::fence`).
    pub fence: Option<crate::runner::fence::Fence>,
}

impl TaskContext {
    /// What a runner needs to run this task: its name, id, attempt, args and deadlines.
    pub fn run_request<'a>(
        &'a self,
        cwd: Option<&'a std::path::Path>,
    ) -> crate::runner::RunRequest<'a> {
        let env = &self.envelope;
        crate::runner::RunRequest {
            task: &env.task,
            task_id: &env.id,
            attempt: env.attempt,
            args: &env.args,
            soft_deadline: self.soft_deadline,
            hard_deadline: self.hard_deadline,
            cwd,
            fence: self.fence.clone(),
        }
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait TaskHandler: Send + Sync {
    fn handles(&self, task: &str) -> bool;
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Outcome>;
}

/// The built-in `noop` task, for smoke tests and benchmarks. Optional args:
/// `sleep_ms` (pretend to work), `incr` (INCR that Redis key), `lat_key` + `enq_ts`
/// (RPUSH "<enq_ts> <start_ts>" to that key: the benchmark's latency probe),
/// `record` (RPUSH the task id to that key: lets tests count runs per task),
/// `fail` ("retry" or "fail", to exercise those paths). The keys it writes must be under
/// `ciq:bench:`; a task naming any other key fails permanently before touching Redis.
pub struct Noop;

/// The first `incr` / `record` / `lat_key` argument outside `ciq:bench:`, as an error.
fn noop_key_error(args: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    ["incr", "record", "lat_key"].iter().find_map(|name| {
        let v = args.get(*name)?;
        match v.as_str() {
            Some(k) if crate::broker::keys::is_bench_key(k) => None,
            _ => Some(format!(
                "noop: {name} must name a key under {:?} (got {v})",
                crate::broker::keys::BENCH_PREFIX
            )),
        }
    })
}

impl TaskHandler for Noop {
    fn handles(&self, task: &str) -> bool {
        task == "noop"
    }

    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let args = &ctx.envelope.args;
            if let Some(error) = noop_key_error(args) {
                return Outcome::Fail { error };
            }
            let mut conn = ctx.broker.conn();
            let failed = |e: redis::RedisError| Outcome::Retry {
                error: format!("noop: {e}"),
                after: None,
            };
            if let (Some(key), Some(enq)) = (
                args.get("lat_key").and_then(|v| v.as_str()),
                args.get("enq_ts"),
            ) {
                let start = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                let line = format!("{} {start}", enq.as_f64().unwrap_or(0.0));
                let r: redis::RedisResult<()> = redis::cmd("RPUSH")
                    .arg(key)
                    .arg(line)
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = r {
                    return failed(e);
                }
            }
            if let Some(ms) = args.get("sleep_ms").and_then(|v| v.as_u64()) {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            // One command per key, not a pipeline: on Redis Cluster the two keys may
            // live on two nodes.
            if let Some(key) = args.get("incr").and_then(|v| v.as_str()) {
                let r: redis::RedisResult<()> =
                    redis::cmd("INCR").arg(key).query_async(&mut conn).await;
                if let Err(e) = r {
                    return failed(e);
                }
            }
            if let Some(key) = args.get("record").and_then(|v| v.as_str()) {
                let r: redis::RedisResult<()> = redis::cmd("RPUSH")
                    .arg(key)
                    .arg(&ctx.envelope.id)
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = r {
                    return failed(e);
                }
            }
            match args.get("fail") {
                None => Outcome::Done(None),
                Some(v) if v == "retry" => Outcome::Retry {
                    error: "noop asked to fail (retryable)".into(),
                    after: None,
                },
                Some(v) if v == "fail" => Outcome::Fail {
                    error: "noop asked to fail".into(),
                },
                // `fail=true` must not pass silently as a success.
                Some(v) => Outcome::Fail {
                    error: format!("noop: fail must be \"retry\" or \"fail\" (got {v})"),
                },
            }
        })
    }
}

/// Tasks declared in `ciq.toml` with a runner (`exec` or `http`).
pub struct ConfiguredRunner {
    config: Arc<Config>,
}

impl ConfiguredRunner {
    pub fn new(config: Arc<Config>) -> Self {
        ConfiguredRunner { config }
    }
}

impl TaskHandler for ConfiguredRunner {
    fn handles(&self, task: &str) -> bool {
        self.config.task(task).is_some_and(|t| t.runner.is_some())
    }

    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let env = &ctx.envelope;
            let Some(spec) = ctx.config.task(&env.task).and_then(|t| t.runner.as_ref()) else {
                return Outcome::Fail {
                    error: format!(
                        "unknown task {:?}: not built in and no runner configured",
                        env.task
                    ),
                };
            };
            outcome_of(crate::runner::run(spec, ctx.run_request(None)).await)
        })
    }
}

/// Maps a runner's result onto the retry policy.
pub fn outcome_of(r: crate::runner::RunOutcome) -> Outcome {
    use crate::runner::RunOutcome as R;
    match r {
        R::Ok { output } => Outcome::Done((!output.is_empty()).then_some(output)),
        R::Retryable {
            error,
            retry_after,
            output,
        } => Outcome::Retry {
            error: with_tail(error, &output),
            after: retry_after,
        },
        R::Permanent { error, output } => Outcome::Fail {
            error: with_tail(error, &output),
        },
        R::TimedOut { hard, output } => Outcome::Retry {
            error: with_tail(
                if hard {
                    "hard time limit exceeded: killed".into()
                } else {
                    "soft time limit exceeded: terminated".into()
                },
                &output,
            ),
            after: None,
        },
    }
}

fn with_tail(error: String, output: &str) -> String {
    if output.trim().is_empty() {
        error
    } else {
        format!("{error}; output: {}", output.trim())
    }
}
