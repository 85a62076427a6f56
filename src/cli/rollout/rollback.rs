//! `ciq rollback`: back to stage 0 (cron only). Works while Redis is down: no step
//! talks to the broker.

use super::ui::{self, Mode};
use crate::cli::{CliError, CliResult, Ctx, Kind};
use crate::config::parse_duration;
use crate::output;
use crate::rollout::plan;
use crate::rollout::state::{assess, mismatches, Observed};
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
    /// Cut platform starts in flight instead of letting them finish: a second SIGTERM to
    /// the stopping worker hands them back to the queue (the platform's orphan scan
    /// deletes the VM a cut start made). Without it, the stop waits up to 10 minutes for
    /// them and says what it waits for; Ctrl-C twice cuts it then.
    #[arg(long)]
    pub force: bool,
    /// After the rollback, wait up to this long for the cron log to show a new run.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub verify_cron: Option<Duration>,
}

pub async fn run(a: RollbackArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    let r = ui::rollout_config(ctx)?;
    let o = Observed::read(&r)?;
    let steps = plan::rollback(&o, &r)?;
    if ctx.json && a.dry_run {
        output::json(&ui::PlanJson {
            from: assess(&o, &r).stage,
            to: 0,
            drift: &[],
            steps: &steps,
            gates: &[],
        });
        return Ok(ExitCode::SUCCESS);
    }
    ui::print_plan("Plan: rollback to stage 0 (cron only)", &steps);
    if a.dry_run {
        eprintln!("dry run: nothing changed");
        return Ok(ExitCode::SUCCESS);
    }
    let mode = if !plan::changes_anything(&steps) {
        eprintln!("already at stage 0: nothing to change");
        Mode::Unattended
    } else if a.yes {
        Mode::Unattended
    } else if ui::can_prompt() {
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
    let before = in_flight(ctx).await;
    if !before.is_empty() {
        eprintln!(
            "in flight now ({}): {} — {}; the platform's tables only change when the platform's own start_test finishes",
            before.len(),
            before.join(", "),
            if a.force {
                "--force: stopping the worker cuts them and returns them to the queue"
            } else {
                "stopping the worker lets them finish (a platform start gets up to 10 minutes past the shutdown timeout; the stop says what it waits for) or returns them to the queue"
            }
        );
    }
    let report = ui::run_steps(
        ctx,
        "rollback",
        "ciq rollback",
        &r,
        &steps,
        mode,
        ui::StepOptions {
            verify_wait: a.verify_cron,
            force: a.force,
        },
    )?;
    if let Some(step) = report.aborted {
        return Err(CliError::failure(format!(
            "rollback aborted at \"{step}\"; the steps before it are done"
        ))
        .with_hint("run `ciq rollback` again to continue"));
    }
    if !before.is_empty() {
        let still = in_flight(ctx).await;
        eprintln!(
            "after stopping the worker: {} still running{}",
            still.len(),
            if still.is_empty() {
                " (the rest finished or went back to the queue)".to_string()
            } else {
                format!(": {}", still.join(", "))
            }
        );
    }
    let now = Observed::read(&r)?;
    let after = assess(&now, &r);
    if after.stage == Some(0) && report.skipped.is_empty() && report.not_done.is_empty() {
        if report.applied > 0 {
            ui::log_event(&r, "rollback", "rollback", "completed", "stage 0".into())?;
        }
        ui::record(&r, 0);
        forget_shadow(ctx).await;
        eprintln!("rollback complete: stage 0 (cron only)");
        return Ok(ExitCode::SUCCESS);
    }
    // Compared with stage 0, the stage a rollback goes to.
    for d in mismatches(&now, &r, 0) {
        eprintln!(
            "warning: {}: found {}; stage 0 expects {}",
            d.component, d.found, d.expected
        );
    }
    if report.skipped.is_empty() {
        return Err(
            CliError::failure("rollback ran, but the machine is not at stage 0")
                .with_hint("ciq migrate-from-cron status"),
        );
    }
    let not_done = if report.not_done.is_empty() {
        String::new()
    } else {
        format!("; not done because of them: {}", report.not_done.join(", "))
    };
    // Partly rolled back is not rolled back: a script must not read it as success.
    Err(CliError::new(
        Kind::Partial,
        format!(
            "rollback done except {} skipped step(s): {}{not_done}; the rollback to stage 0 is not complete",
            report.skipped.len(),
            report.skipped.join(", ")
        ),
    )
    .with_hint("run `ciq rollback` again to apply the skipped steps"))
}

/// Tasks running now ("start_test test 42 on worker w1"), best effort: empty when Redis
/// is unreachable (a rollback never waits for it).
async fn in_flight(ctx: &Ctx) -> Vec<String> {
    let read = async {
        let b = ctx.broker().await.ok()?;
        let mut out = vec![];
        for q in ctx.config.queue_names() {
            for t in b.active(&q).await.ok()? {
                let what = match &t.envelope {
                    Some(e) => match e.args.get("test_id") {
                        Some(id) => format!("{} test {id}", e.task),
                        None => e.task.clone(),
                    },
                    None => t.id.clone(),
                };
                out.push(format!("{what} on {}", t.worker));
            }
        }
        Some(out)
    };
    tokio::time::timeout(Duration::from_secs(3), read)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The shadow stage's evidence ends with it: the next stage 1 watches afresh (tests the
/// cron starts meanwhile would otherwise count as missed). Best effort, like `in_flight`.
async fn forget_shadow(ctx: &Ctx) {
    let reset = async { ctx.broker().await.ok()?.reset_shadow().await.ok() };
    if tokio::time::timeout(Duration::from_secs(3), reset)
        .await
        .ok()
        .flatten()
        .is_none()
    {
        eprintln!("note: Redis unreachable: the shadow evidence is kept (`redis-cli DEL ciq:platform:shadow:since` forgets it)");
    }
}
