//! `migrate-from-cron next | --to-stage N`: plan, gates, confirmation, then the steps.

use super::status::{print_drift, print_gates};
use super::ui::{self, record, Mode};
use crate::broker::now_ms;
use crate::cli::{CliError, CliResult, Ctx, Kind};
use crate::output;
use crate::rollout::gates;
use crate::rollout::state::{assess, Observed};
use crate::rollout::{plan, stage_name, LAST_STAGE};
use std::process::ExitCode;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ApplyOpts {
    /// Print the plan and the gate checks; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Go ahead although gate checks fail (recorded in the audit log).
    #[arg(long)]
    pub force: bool,
    /// Do not ask (needed without a terminal).
    #[arg(long, short)]
    pub yes: bool,
}

pub async fn run(ctx: &Ctx, to: Option<u8>, opts: ApplyOpts) -> CliResult<ExitCode> {
    let r = ui::rollout_config(ctx)?;
    let o = Observed::read(&r)?;
    let a = assess(&o, &r);
    let base = a.base();
    let target = to.unwrap_or(base + 1);
    if target == 0 {
        return Err(CliError::usage("stage 0 is reached with `ciq rollback`")
            .with_hint("ciq rollback --dry-run shows its plan"));
    }
    if target > LAST_STAGE {
        return Err(CliError::usage(format!(
            "already at stage {LAST_STAGE}, the last one"
        )));
    }
    if target > base + 1 {
        return Err(CliError::usage(format!(
            "one stage at a time: the next stage is {}",
            base + 1
        ))
        .with_hint(format!("ciq migrate-from-cron --to-stage {}", base + 1)));
    }
    let forward = target > a.stage.unwrap_or(base);
    let steps = plan::to_stage(target, &o, &r)?;
    let from = match a.stage {
        Some(s) => format!("stage {s}"),
        None => "drift".to_string(),
    };
    let gates = if forward {
        gates::check(&ctx.config, &r, target, now_ms()).await
    } else {
        vec![]
    };
    if ctx.json && opts.dry_run {
        output::json(&ui::PlanJson {
            from: a.stage,
            to: target,
            drift: &a.drift,
            steps: &steps,
            gates: &gates,
        });
        return Ok(ExitCode::SUCCESS);
    }
    if a.stage.is_none() {
        print_drift(&a);
    }
    ui::print_plan(
        &format!("Plan: {from} -> stage {target} ({})", stage_name(target)),
        &steps,
    );
    if !gates.is_empty() {
        output::print_line(&format!("gate checks for stage {target}:"));
        print_gates(&gates);
    }
    let failing: Vec<String> = gates
        .iter()
        .filter(|g| !g.ok)
        .map(|g| format!("{}: {}", g.name, g.detail))
        .collect();
    if opts.dry_run {
        eprintln!("dry run: nothing changed");
        return Ok(ExitCode::SUCCESS);
    }
    if !plan::changes_anything(&steps) {
        eprintln!("already at stage {target}: nothing to change");
        record(&r, target);
        return Ok(ExitCode::SUCCESS);
    }
    let command = "migrate-from-cron";
    if !failing.is_empty() {
        if !opts.force {
            let waiting = gates.iter().filter(|g| g.not_yet_due).count();
            let failed = failing.len() - waiting;
            let (what, hint) = match (failed, waiting) {
                (0, w) => (
                    format!("{w} gate check(s) not yet due"),
                    "wait until they are due and retry, or add --force to go ahead anyway (recorded in the audit log)",
                ),
                (f, 0) => (
                    format!("{f} gate check(s) failed"),
                    "fix them and retry, or add --force to go ahead anyway (recorded in the audit log)",
                ),
                (f, w) => (
                    format!("{f} gate check(s) failed and {w} not yet due"),
                    "fix the failed ones and retry, or add --force to go ahead anyway (recorded in the audit log)",
                ),
            };
            return Err(
                CliError::new(Kind::Refused, format!("{what}; nothing changed")).with_hint(hint),
            );
        }
        ui::log_event(
            &r,
            command,
            &format!("gates for stage {target}"),
            "gates-forced",
            failing.join("; "),
        )?;
        eprintln!(
            "warning: going ahead despite {} gate check(s) not passed (--force)",
            failing.len()
        );
    }
    if !opts.yes && !ui::confirm_all(&format!("Move to stage {target}?"))? {
        eprintln!("aborted: nothing changed");
        return Ok(ExitCode::from(1));
    }
    let _lock = crate::rollout::lock::acquire(&r.state_dir)?;
    let rerun = format!("ciq migrate-from-cron --to-stage {target}");
    let report = ui::run_steps(
        ctx,
        command,
        &rerun,
        &r,
        &steps,
        Mode::Unattended,
        ui::StepOptions::default(),
    )?;
    let after = assess(&Observed::read(&r)?, &r);
    if after.stage != Some(target) {
        return Err(CliError::failure(format!(
            "the steps ran, but the machine does not read as stage {target}"
        ))
        .with_hint("ciq migrate-from-cron status"));
    }
    if report.applied > 0 {
        ui::log_event(
            &r,
            command,
            &format!("stage {target}"),
            "completed",
            format!("{from} -> stage {target}"),
        )?;
    }
    record(&r, target);
    eprintln!("now at stage {target}: {}", stage_name(target));
    Ok(ExitCode::SUCCESS)
}
