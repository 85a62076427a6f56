//! `ciq rollback`: back to stage 0 (cron only). Works while Redis is down: no step
//! talks to the broker.

use super::rollout_ui::{self, Mode};
use super::{CliError, CliResult, Ctx, Kind};
use crate::config::parse_duration;
use crate::output;
use crate::rollout::plan;
use crate::rollout::state::{assess, Observed};
use std::process::ExitCode;
use std::time::Duration;

/// Return the platform to stage 0: cron only.
///
/// Stops ciq-beat, stops ciq-worker gracefully (SIGTERM: running tasks finish or go back
/// to the queue), sets the platform's flag to False, restarts the platform, puts the cron
/// line back to */10 and verifies it. On a terminal it asks before each step (apply, skip
/// with a reason, abort); --yes runs it unattended. A rerun after a failure resumes; a
/// second run changes nothing. A rollback with a skipped step exits 7 (partly done).
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// Do not ask; run every step (needed without a terminal).
    #[arg(long, short)]
    pub yes: bool,
    /// Print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// After the rollback, wait up to this long for the cron log to show a new run.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub verify_cron: Option<Duration>,
}

pub async fn run(a: RollbackArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    let r = rollout_ui::rollout_config(ctx)?;
    let o = Observed::read(&r)?;
    let steps = plan::rollback(&o, &r)?;
    if ctx.json && a.dry_run {
        output::json(&rollout_ui::PlanJson {
            from: assess(&o, &r).stage,
            to: 0,
            drift: &[],
            steps: &steps,
            gates: &[],
        });
        return Ok(ExitCode::SUCCESS);
    }
    rollout_ui::print_plan("Plan: rollback to stage 0 (cron only)", &steps);
    if a.dry_run {
        eprintln!("dry run: nothing changed");
        return Ok(ExitCode::SUCCESS);
    }
    let mode = if !plan::changes_anything(&steps) {
        eprintln!("already at stage 0: nothing to change");
        Mode::Unattended
    } else if a.yes {
        Mode::Unattended
    } else if rollout_ui::can_prompt() {
        Mode::Wizard
    } else {
        return Err(CliError::new(
            Kind::Refused,
            "refusing to roll back without a terminal to confirm on",
        )
        .with_hint("add --yes to run it unattended from a script"));
    };
    let _lock = if plan::changes_anything(&steps) {
        Some(crate::rollout::lock::acquire(&r.state_dir)?)
    } else {
        None
    };
    let report = rollout_ui::run_steps(
        ctx,
        "rollback",
        "ciq rollback",
        &r,
        &steps,
        mode,
        a.verify_cron,
    )?;
    if let Some(step) = report.aborted {
        return Err(CliError::failure(format!(
            "rollback aborted at \"{step}\"; the steps before it are done"
        ))
        .with_hint("run `ciq rollback` again to continue"));
    }
    let after = assess(&Observed::read(&r)?, &r);
    if after.stage == Some(0) {
        if report.applied > 0 {
            rollout_ui::log_event(&r, "rollback", "rollback", "completed", "stage 0".into())?;
        }
        super::migrate::record(&r, 0);
        eprintln!("rollback complete: stage 0 (cron only)");
        return Ok(ExitCode::SUCCESS);
    }
    for d in &after.drift {
        eprintln!(
            "warning: {}: {} (stage 0 expects {})",
            d.component, d.found, d.expected
        );
    }
    if report.skipped.is_empty() {
        return Err(
            CliError::failure("rollback ran, but the machine is not at stage 0")
                .with_hint("ciq migrate-from-cron status"),
        );
    }
    // Partly rolled back is not rolled back: a script must not read it as success.
    Err(CliError::new(
        Kind::Partial,
        format!(
            "rollback done except {} skipped step(s): {}; the machine is not at stage 0",
            report.skipped.len(),
            report.skipped.join(", ")
        ),
    )
    .with_hint("run `ciq rollback` again to apply the skipped steps"))
}
