//! `ciq migrate-from-cron status | next | --to-stage N`: the staged move from the cron job
//! to the queue, one stage at a time, behind gate checks.

use super::rollout_ui::{self, Mode};
use super::{CliError, CliResult, Ctx, Kind};
use crate::broker::now_ms;
use crate::output;
use crate::rollout::gates::{self, Gate};
use crate::rollout::notes::{self, StageNote};
use crate::rollout::state::{assess, Assessment, Drift, Observed};
use crate::rollout::{plan, stage_name, LAST_STAGE};
use serde::Serialize;
use std::process::ExitCode;

/// Migrate the platform from its cron job to the queue, one stage at a time.
///
/// Stages: 0 cron only; 1 worker and beat running (flag False, cron */10); 2 queue primary
/// (flag True, cron */30); 3 queue only (cron line commented out). The stage is read from
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

pub async fn run(a: MigrateArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    match (a.action, a.to_stage) {
        (Some(MigrateAction::Status), _) => status(ctx).await,
        (Some(MigrateAction::Next(o)), _) => go(ctx, None, o).await,
        (None, Some(n)) => go(ctx, Some(n), a.opts).await,
        (None, None) => Err(
            CliError::usage("say what to do: status, next or --to-stage N")
                .with_hint("ciq migrate-from-cron status"),
        ),
    }
}

/// `status --json`: a stable schema.
#[derive(Debug, Serialize)]
struct StatusJson {
    stage: Option<u8>,
    stage_name: Option<&'static str>,
    observed: Observed,
    drift: Vec<Drift>,
    fix: Vec<String>,
    recorded: Option<StageNote>,
    next_stage: Option<u8>,
    gates: Vec<Gate>,
}

async fn status(ctx: &Ctx) -> CliResult<ExitCode> {
    let r = rollout_ui::rollout_config(ctx)?;
    let o = Observed::read(&r)?;
    let a = assess(&o, &r);
    let next = Some(a.base() + 1).filter(|n| *n <= LAST_STAGE);
    let gates = match next {
        Some(n) => gates::check(&ctx.config, &r, n, now_ms()).await,
        None => vec![],
    };
    let recorded = notes::read_note(&r.state_dir);
    if ctx.json {
        output::json(&StatusJson {
            stage: a.stage,
            stage_name: a.stage.map(stage_name),
            observed: o,
            drift: a.drift,
            fix: a.fix,
            recorded,
            next_stage: next,
            gates,
        });
        return Ok(ExitCode::SUCCESS);
    }
    match a.stage {
        Some(s) => output::print_line(&format!("stage {s}: {}", stage_name(s))),
        None => output::print_line(&format!(
            "DRIFT: not cleanly at any stage; the changes point to stage {} ({} component(s) differ)",
            a.toward,
            a.drift.len()
        )),
    }
    let ct = crate::rollout::state::crontab_of(&r);
    output::table(
        &["component", "where", "now"],
        vec![
            vec![
                format!("flag {}", r.flag),
                r.platform_config.display().to_string(),
                o.flag.describe(),
            ],
            vec![
                format!("cron {}", r.cron_match),
                ct.label(),
                o.cron.describe(),
            ],
            unit_row(&r.worker_unit, o.worker),
            unit_row(&r.beat_unit, o.beat),
        ],
    );
    print_drift(&a);
    if let Some(n) = recorded {
        output::print_line(&format!(
            "last recorded by ciq: stage {} at {} by {}",
            n.stage, n.at, n.by
        ));
    }
    if let Some(n) = next {
        output::print_line(&format!("gate checks for stage {n}:"));
        print_gates(&gates);
    }
    Ok(ExitCode::SUCCESS)
}

fn unit_row(unit: &str, u: crate::rollout::systemd::UnitState) -> Vec<String> {
    vec![
        format!("service {unit}"),
        "systemd".into(),
        format!(
            "{}, {}",
            if u.active { "running" } else { "stopped" },
            if u.enabled { "enabled" } else { "disabled" }
        ),
    ]
}

fn print_drift(a: &Assessment) {
    for d in &a.drift {
        output::print_line(&format!(
            "drift: {}: found {}, stage {} expects {}",
            d.component, d.found, a.toward, d.expected
        ));
    }
    if !a.fix.is_empty() {
        output::print_line("to fix, run one of:");
        for f in &a.fix {
            output::print_line(&format!("  {f}"));
        }
    }
}

fn print_gates(gates: &[Gate]) {
    output::table(
        &["check", "result", "detail"],
        gates
            .iter()
            .map(|g| {
                vec![
                    g.name.clone(),
                    if g.ok { "ok" } else { "FAIL" }.into(),
                    g.detail.clone(),
                ]
            })
            .collect(),
    );
}

async fn go(ctx: &Ctx, to: Option<u8>, opts: ApplyOpts) -> CliResult<ExitCode> {
    let r = rollout_ui::rollout_config(ctx)?;
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
        output::json(&rollout_ui::PlanJson {
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
    rollout_ui::print_plan(
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
            return Err(CliError::new(
                Kind::Refused,
                format!("{} gate check(s) failed; nothing changed", failing.len()),
            )
            .with_hint(
                "fix them and retry, or add --force to go ahead anyway (recorded in the audit log)",
            ));
        }
        rollout_ui::log_event(
            &r,
            command,
            &format!("gates for stage {target}"),
            "gates-forced",
            failing.join("; "),
        )?;
        eprintln!(
            "warning: going ahead despite {} failing gate check(s) (--force)",
            failing.len()
        );
    }
    if !opts.yes && !rollout_ui::confirm_all(&format!("Move to stage {target}?"))? {
        eprintln!("aborted: nothing changed");
        return Ok(ExitCode::from(1));
    }
    let _lock = crate::rollout::lock::acquire(&r.state_dir)?;
    let rerun = format!("ciq migrate-from-cron --to-stage {target}");
    let report = rollout_ui::run_steps(ctx, command, &rerun, &r, &steps, Mode::Unattended, None)?;
    let after = assess(&Observed::read(&r)?, &r);
    if after.stage != Some(target) {
        return Err(CliError::failure(format!(
            "the steps ran, but the machine does not read as stage {target}"
        ))
        .with_hint("ciq migrate-from-cron status"));
    }
    if report.applied > 0 {
        rollout_ui::log_event(
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

/// Notes the stage reached; the stage itself is always read from the machine.
pub fn record(r: &crate::config::rollout::Rollout, stage: u8) {
    let note = StageNote {
        stage,
        at: output::ts(now_ms()),
        by: crate::rollout::audit::who(),
    };
    if notes::read_note(&r.state_dir).map(|n| n.stage) == Some(stage) {
        return;
    }
    if let Err(e) = notes::write_note(&r.state_dir, &note) {
        eprintln!("warning: cannot record the stage: {e}");
    }
}
