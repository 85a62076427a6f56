//! `ciq pause` / `ciq resume`: stop and restart taking tasks from a queue.

use super::{CliError, CliResult, Ctx};
use std::process::ExitCode;

/// Stop workers taking tasks from a queue (at once). Enqueue keeps working.
#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    #[arg(required = true)]
    pub queues: Vec<String>,
}

/// Let workers take tasks from a paused queue again.
#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    #[arg(required = true)]
    pub queues: Vec<String>,
}

async fn set(queues: &[String], paused: bool, ctx: &Ctx) -> CliResult<ExitCode> {
    for q in queues {
        crate::broker::keys::validate_queue_name(q).map_err(CliError::usage)?;
    }
    let broker = ctx.broker().await?;
    super::known_queue::require_known(&broker, ctx, queues).await?;
    for q in queues {
        broker.set_paused(q, paused).await?;
        if !ctx.quiet {
            eprintln!("{} {q}", if paused { "paused" } else { "resumed" });
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_pause(a: PauseArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    set(&a.queues, true, ctx).await
}

pub async fn run_resume(a: ResumeArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    set(&a.queues, false, ctx).await
}
