//! `ciq migrate-from-cron status | next | --to-stage N`: the staged move from the cron job
//! to the queue, one stage at a time, behind gate checks. `status.rs` reads, `go.rs` moves.

use super::go::{self, ApplyOpts};
use super::status;
use crate::cli::{CliError, CliResult, Ctx};
use std::process::ExitCode;

/// Migrate the platform from its cron job to the queue, one stage at a time.
///
/// Stages: 0 cron only (flag False, cron */10); 1 install & monitor: worker and beat
/// running (flag False, cron */10 through ciq cron-guard, which runs it every time); 2
/// queue primary (flag True, cron */10 through ciq cron-guard, which runs it only when the
/// queue cannot); 3 queue only (cron line commented out). The stage is read from
/// the platform's config file, the cron entry and the services. Moving forward needs the
/// gate checks to pass (broker, worker, beat, periodic tasks, no stale pending test);
/// `ciq rollback` goes back to stage 0.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub action: Option<MigrateAction>,
    /// Go to stage N: the next one (or finish a half-done one), or step back to 1 or 2.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=3))]
    pub to_stage: Option<u8>,
    #[command(flatten)]
    pub opts: ApplyOpts,
}

#[derive(Debug, clap::Subcommand)]
pub enum MigrateAction {
    /// The current stage, any drift between the files and services, and the gate checks.
    Status,
    /// Move to the next stage.
    Next(ApplyOpts),
}

pub async fn run(a: MigrateArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    match (a.action, a.to_stage) {
        (Some(MigrateAction::Status), _) => status::run(ctx).await,
        (Some(MigrateAction::Next(o)), _) => go::run(ctx, None, o).await,
        (None, Some(n)) => go::run(ctx, Some(n), a.opts).await,
        (None, None) => Err(
            CliError::usage("say what to do: status, next or --to-stage N")
                .with_hint("ciq migrate-from-cron status"),
        ),
    }
}
