//! `ciq depth`: how much work waits in each queue.

mod check;
pub(super) mod read;

use crate::cli::{CliResult, Ctx};
use crate::output;
use read::depths_each;
use std::process::ExitCode;

/// Per queue: pending, active, scheduled, retry, dead, age of the oldest pending task, paused.
///
/// With --check it behaves as a monitoring plugin (Nagios/Icinga/Sensu): one summary
/// line and exit 0 OK, 1 WARNING, 2 CRITICAL (also: a Redis that may evict keys), 3 UNKNOWN
/// (e.g. Redis unreachable, an unknown queue).
#[derive(Debug, clap::Args)]
pub struct DepthArgs {
    /// Queues to show (default: configured queues and any seen in Redis).
    pub queues: Vec<String>,
    /// Monitoring-plugin mode: compare pending counts (and ages) with thresholds.
    #[arg(long)]
    pub check: bool,
    /// With --check: WARNING when a queue has at least this many pending tasks.
    #[arg(long, value_name = "N", requires = "check")]
    pub warn: Option<u64>,
    /// With --check: CRITICAL when a queue has at least this many pending tasks.
    #[arg(long, value_name = "N", requires = "check")]
    pub crit: Option<u64>,
    /// With --check: CRITICAL when the oldest pending task is older than this (e.g. 15m).
    #[arg(long, value_name = "DURATION", requires = "check")]
    pub max_age: Option<String>,
}

pub async fn run(a: DepthArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    if a.check {
        let t = check::Thresholds {
            warn: a.warn,
            crit: a.crit,
            max_age: a.max_age.clone(),
        };
        return Ok(check::run(&a.queues, &t, ctx).await);
    }
    let broker = ctx.broker().await?;
    crate::cli::known_queue::require_known(&broker, ctx, &a.queues).await?;
    // Every readable queue is shown; one that cannot be read (a cluster node down) is
    // named on stderr and makes the exit code 3.
    let (ds, failed) = depths_each(&broker, ctx, &a.queues).await;
    let code = if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        for (q, e) in &failed {
            eprintln!("error: cannot read queue {q}: {e}");
        }
        ExitCode::from(crate::cli::Kind::Broker as u8)
    };
    output::list(
        ctx.json,
        &ds,
        None,
        &[
            "queue",
            "pending",
            "active",
            "scheduled",
            "retry",
            "dead",
            "oldest",
            "paused",
        ],
        |d| {
            let counts = [d.pending, d.active, d.scheduled, d.retry, d.dead];
            let oldest = d.oldest_pending_age_s.map(output::age);
            let mut row = vec![d.queue.clone()];
            row.extend(counts.map(|n| n.to_string()));
            row.push(oldest.unwrap_or_else(|| "-".into()));
            row.push(if d.paused { "yes" } else { "no" }.into());
            row
        },
    );
    Ok(code)
}
