//! `ciq enqueue`: put a task on its queue and print its id. Runs from crontab and
//! webhooks, so it starts, enqueues and exits in milliseconds.

use super::{CliError, CliResult, Ctx, Kind};
use crate::broker::enqueue::Enqueued;
use crate::broker::outcome::Ended;
use crate::broker::{new_id, now_ms, Envelope};
use crate::config::parse_duration;
use crate::output;
use std::process::ExitCode;
use std::time::Duration;

/// Enqueue a task and print its id.
///
/// A second enqueue while a task with the same unique key is pending, running or
/// retrying prints the existing task's id and exits 0 (it is not an error).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ciq enqueue start_test --arg test_id=42\n  ciq enqueue noop --countdown 5m\n  ciq enqueue notify --args-json '{\"pr\": 7}' --wait --timeout 30s"
)]
pub struct EnqueueArgs {
    /// Task name (built in, or declared under [tasks.NAME] in ciq.toml).
    pub task: String,
    /// A task argument; the value is JSON when it parses as JSON (42, true), else a string.
    #[arg(long = "arg", value_name = "KEY=VALUE")]
    pub args: Vec<String>,
    /// All arguments as one JSON object (merged under --arg).
    #[arg(long, value_name = "JSON")]
    pub args_json: Option<String>,
    /// Queue to use instead of the task's configured one.
    #[arg(long)]
    pub queue: Option<String>,
    /// Run no sooner than this long from now (e.g. 30s, 5m).
    #[arg(long, value_name = "DURATION", conflicts_with = "eta")]
    pub countdown: Option<String>,
    /// Run no sooner than this time (RFC 3339, e.g. 2026-11-28T10:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub eta: Option<String>,
    /// Unique key (overrides the task's template); a held key makes this a duplicate.
    #[arg(long, value_name = "KEY")]
    pub unique: Option<String>,
    /// Wait for the task to finish; exit 0 when done, 1 when it failed.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long (exit 5).
    #[arg(long, value_name = "DURATION", requires = "wait")]
    pub timeout: Option<String>,
    /// Enqueue this many copies (1 to 1000000; bulk, no unique key). Prints the count.
    /// Batches of 1,000 go in whole or not at all: when Redis runs out of memory part-way
    /// the ids that went in are printed instead, and the exit code is 7.
    #[arg(long, value_name = "N", conflicts_with_all = ["wait", "unique", "countdown", "eta"])]
    pub count: Option<u64>,
    /// With --count: record the tasks' history as a single enqueue does (each record is
    /// made at the task's first outcome; a pending message carries a 9-byte mark).
    #[arg(long, requires = "count")]
    pub history: bool,
}

use crate::submit::{build_envelope, Args};

pub fn parse_args(pairs: &[String], json: Option<&str>) -> CliResult<Args> {
    let mut args = match json {
        Some(j) => match serde_json::from_str::<serde_json::Value>(j) {
            Ok(serde_json::Value::Object(m)) => m,
            Ok(_) => return Err(CliError::usage("--args-json must be a JSON object")),
            Err(e) => {
                return Err(CliError::usage(format!(
                    "--args-json is not valid JSON: {e}"
                )))
            }
        },
        None => Args::new(),
    };
    for p in pairs {
        let Some((k, v)) = p.split_once('=') else {
            return Err(CliError::usage(format!("--arg {p:?}: expected KEY=VALUE")));
        };
        let v = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.into()));
        args.insert(k.to_string(), v);
    }
    if let Some(path) = crate::secrets::find_secret_arg(&args) {
        return Err(secret_refused(&format!("argument {path:?}")));
    }
    Ok(args)
}

fn secret_refused(what: &str) -> CliError {
    CliError::usage(crate::secrets::refusal(what))
        .with_hint("let the worker read it from its environment or the runner's env in ciq.toml")
}

/// The longest `--countdown` and `--wait --timeout`: beyond that a value is a typo.
const MAX_DELAY: Duration = Duration::from_secs(366 * 24 * 3600);
/// The most tasks one `--count` enqueues.
const MAX_COUNT: u64 = 1_000_000;

fn bounded(flag: &str, s: &str, min: Duration) -> CliResult<Duration> {
    let d = parse_duration(s).map_err(|e| CliError::usage(format!("{flag}: {e}")))?;
    crate::config::checks::within(d, min, MAX_DELAY)
        .map_err(|e| CliError::usage(format!("{flag}: {e}")))?;
    Ok(d)
}

fn due_time(a: &EnqueueArgs) -> CliResult<Option<u64>> {
    if let Some(c) = &a.countdown {
        let d = bounded("--countdown", c, Duration::ZERO)?;
        return Ok(Some(now_ms() + d.as_millis() as u64));
    }
    if let Some(t) = &a.eta {
        let t = humantime::parse_rfc3339_weak(t).map_err(|e| {
            CliError::usage(format!("--eta {t:?}: {e}; use e.g. 2026-11-28T10:00:00Z"))
        })?;
        let ms = t
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        return Ok(Some(ms));
    }
    Ok(None)
}

pub async fn run(a: EnqueueArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    let args = parse_args(&a.args, a.args_json.as_deref())?;
    // 0 would mean "wait forever" to Redis: leave out --timeout for that.
    let timeout = a
        .timeout
        .as_deref()
        .map(|t| bounded("--timeout", t, Duration::from_millis(1)))
        .transpose()?;
    let due = due_time(&a)?;
    if a.count.is_some_and(|n| n == 0 || n > MAX_COUNT) {
        return Err(CliError::usage(format!(
            "--count: {} is out of range: use 1 to {MAX_COUNT}",
            a.count.unwrap_or(0)
        )));
    }
    if let Some(q) = &a.queue {
        super::known_queue::require_declared("--queue", q, &ctx.config.queue_names())?;
    }
    let mut env = build_envelope(
        &ctx.config,
        &a.task,
        args,
        a.queue.as_deref(),
        a.unique.as_deref(),
    )
    .map_err(CliError::usage)?;
    let broker = ctx.broker().await?;

    if let Some(n) = a.count {
        let env = Envelope {
            history: a.history,
            ..env
        };
        return bulk(&broker, &env, n, ctx).await;
    }

    env.eta = due;
    env.notify = a.wait;
    // A countdown runs on the Redis server's clock (eta_ms shown is this host's estimate).
    let res = match a.countdown.as_deref().map(parse_duration) {
        Some(Ok(d)) => broker.enqueue_after(&env, d).await?,
        _ => broker.enqueue(&env, due).await?,
    };
    let dup = matches!(res, Enqueued::Duplicate(_));
    if ctx.json {
        output::json(&serde_json::json!({
            "id": res.id(), "task": env.task, "queue": env.queue,
            "duplicate": dup, "unique_key": env.unique_key, "eta_ms": due,
        }));
    } else {
        output::print_line(res.id());
    }
    if dup {
        if !ctx.quiet {
            eprintln!(
                "duplicate: a task with unique key {:?} is already queued or running (id {})",
                env.unique_key.as_deref().unwrap_or(""),
                res.id()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !a.wait {
        return Ok(ExitCode::SUCCESS);
    }
    let pb = output::spinner(&format!("waiting for {} ({})", env.task, res.id()));
    let outcome = broker
        .wait_outcome(res.id(), timeout.unwrap_or(Duration::ZERO))
        .await?;
    pb.finish_and_clear();
    let Some(o) = outcome else {
        let named = super::inspect::task::Named {
            id: Some(res.id()),
            unique: None,
            queue: Some(&env.queue),
        };
        let rec = super::inspect::task::find(&broker, ctx, named)
            .await
            .ok()
            .and_then(|(_, rec)| rec);
        return Err(CliError::new(
            Kind::Timeout,
            format!("task {} did not finish within the timeout", res.id()),
        )
        .with_hint(format!(
            "{}; see `ciq inspect task {}`",
            rec.map(|r| where_it_is(&r))
                .unwrap_or_else(|| "it has not finished".into()),
            res.id()
        )));
    };
    if o.state == Ended::Done {
        if !ctx.quiet {
            match o.result.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => eprintln!("done: {}: {r}", res.id()),
                None => eprintln!("done: {}", res.id()),
            }
        }
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::failure(format!(
            "task {} failed: {}",
            res.id(),
            o.error.as_deref().unwrap_or("unknown error")
        ))
        .with_hint(format!("see `ciq inspect task {}`", res.id())))
    }
}

/// Where a task that has not finished is, from its history record.
fn where_it_is(r: &crate::broker::history::TaskRecord) -> String {
    let v = super::inspect::task::view(r);
    let at = |t: &Option<String>| t.clone().unwrap_or_else(|| "?".into());
    match v.state.as_str() {
        "retrying" | "deferred" => format!(
            "it is {}: attempt {} failed ({}); next run at {}",
            v.state,
            v.attempt.unwrap_or(0),
            v.last_error.as_deref().unwrap_or("no error recorded"),
            at(&v.next_at)
        ),
        "running" => format!(
            "it is running on {} since {}",
            at(&v.worker),
            at(&v.claimed_at)
        ),
        "scheduled" => format!("it is scheduled for {}", at(&v.next_at)),
        "pending" => format!(
            "it is still pending: no worker has taken it yet (is `ciq work` serving queue {}?)",
            v.queue
        ),
        s => format!("it is {s}"),
    }
}

/// `--count N`: refused on an evicting Redis (the tasks could vanish silently); all in,
/// or exactly how many went in.
async fn bulk(
    broker: &crate::broker::Broker,
    env: &Envelope,
    n: u64,
    ctx: &Ctx,
) -> CliResult<ExitCode> {
    // An ACL user without INFO (@dangerous) skips this check rather than failing.
    let info = broker.server_info().await.unwrap_or_default();
    if info.evicting() {
        return Err(CliError::new(
            Kind::Refused,
            format!(
                "Redis evicts keys (maxmemory-policy {}): queued tasks could be deleted silently; nothing was queued",
                info.maxmemory_policy
            ),
        )
        .with_hint("redis-cli CONFIG SET maxmemory-policy noeviction (and in redis.conf)"));
    }
    let envs: Vec<Envelope> = (0..n)
        .map(|_| Envelope {
            id: new_id(),
            unique_key: None,
            ..env.clone()
        })
        .collect();
    let (done, res) = broker.enqueue_bulk(&envs).await;
    match res {
        Ok(()) => {
            if ctx.json {
                output::json(&serde_json::json!({"enqueued": n, "queue": env.queue}));
            } else {
                output::print_line(&n.to_string());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if done == 0 => Err(e.into()),
        Err(e) => {
            let ids: Vec<&str> = envs[..done].iter().map(|e| e.id.as_str()).collect();
            if ctx.json {
                output::json(
                    &serde_json::json!({"enqueued": done, "queue": env.queue, "ids": ids}),
                );
            } else {
                for id in &ids {
                    output::print_line(id);
                }
            }
            Err(CliError::new(
                Kind::Partial,
                format!("only {done} of {n} tasks were queued (their ids are on stdout): {e}"),
            )
            .with_hint("enqueue the rest once Redis has memory again; do not retry all of them"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_are_typed_and_secrets_refused() {
        let a = parse_args(&["test_id=42".into(), "name=x".into()], None).unwrap();
        assert_eq!(a["test_id"], 42);
        assert_eq!(a["name"], "x");
        assert!(parse_args(&["bot_token=abc".into()], None).is_err());
        assert!(parse_args(&[], Some(r#"{"opts":{"pwd":"x"}}"#)).is_err());
        assert!(parse_args(&["nokv".into()], None).is_err());
        assert!(parse_args(&[], Some("[1]")).is_err());
    }
}
