//! `ciq purge`: delete waiting tasks. Never touches active ones.

use super::{CliError, CliResult, Ctx, Kind};
use crate::broker::now_ms;
use crate::broker::tasks::State;
use crate::output;
use std::process::ExitCode;

/// Delete pending, scheduled, retrying or dead tasks (never active ones).
///
/// States exactly what it will delete, with counts, then asks on a terminal. Without a
/// terminal it refuses unless --yes is given.
#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// Queues to purge.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub queues: Vec<String>,
    /// Every known queue.
    #[arg(long)]
    pub all: bool,
    /// States to delete (repeatable; default: pending, scheduled, retry and dead).
    #[arg(long = "state", value_enum)]
    pub states: Vec<State>,
    /// Show what would be deleted and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask.
    #[arg(long, short)]
    pub yes: bool,
}

pub async fn run(a: PurgeArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    let broker = ctx.broker().await?;
    let queues = if a.all {
        broker.known_queues(&ctx.config.queue_names()).await?
    } else {
        super::known_queue::require_known(&broker, ctx, &a.queues).await?;
        a.queues.clone()
    };
    let states = if a.states.is_empty() {
        State::ALL.to_vec()
    } else {
        a.states.clone()
    };
    let mut plan = vec![];
    let now = now_ms();
    for q in &queues {
        let d = broker.depth(q, now).await?;
        for s in &states {
            let n = match s {
                State::Pending => d.pending,
                State::Scheduled => d.scheduled,
                State::Retry => d.retry,
                State::Dead => d.dead,
            };
            if n > 0 {
                plan.push((q.clone(), *s, n));
            }
        }
    }
    let total: u64 = plan.iter().map(|p| p.2).sum();
    let lines: Vec<String> = plan
        .iter()
        .map(|(q, s, n)| format!("{n} {} task(s) in {q}", s.name()))
        .collect();
    if ctx.json && a.dry_run {
        output::json(&serde_json::json!({
            "dry_run": true,
            "would_delete": plan.iter().map(|(q, s, n)| serde_json::json!({"queue": q, "state": s, "count": n})).collect::<Vec<_>>(),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    if total == 0 {
        eprintln!("nothing to purge");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("will delete {total} task(s) (active tasks are never touched):");
    for l in &lines {
        eprintln!("  {l}");
    }
    if a.dry_run {
        eprintln!("dry run: nothing deleted");
        return Ok(ExitCode::SUCCESS);
    }
    if !a.yes {
        if !output::stdin_is_tty() || !output::stderr_is_tty() {
            return Err(CliError::new(
                Kind::Refused,
                "refusing to purge without a terminal to confirm on",
            )
            .with_hint("add --yes to purge from a script"));
        }
        let ok = dialoguer::Confirm::new()
            .with_prompt(format!("Delete these {total} task(s)?"))
            .default(false)
            .interact()
            .map_err(|e| CliError::failure(format!("prompt failed: {e}")))?;
        if !ok {
            eprintln!("aborted: nothing deleted");
            return Ok(ExitCode::from(1));
        }
    }
    let pb = output::progress(total, "purging");
    let mut deleted = 0u64;
    for (q, s, counted) in &plan {
        // Delete at most what was announced (oldest first), even if more arrived since.
        let mut left = *counted;
        while left > 0 {
            let n = broker.purge_batch(q, *s, left.min(1000) as usize).await?;
            deleted += n;
            pb.inc(n);
            if n == 0 {
                break;
            }
            left -= n.min(left);
        }
    }
    pb.finish_and_clear();
    if ctx.json {
        output::json(&serde_json::json!({"deleted": deleted}));
    } else {
        eprintln!("deleted {deleted} task(s)");
    }
    Ok(ExitCode::SUCCESS)
}
