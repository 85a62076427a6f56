//! `migrate-from-cron status`: the stage, the drift and the gate checks for the next stage.

use super::ui;
use crate::broker::now_ms;
use crate::cli::{CliResult, Ctx};
use crate::output;
use crate::rollout::gates::{self, Gate};
use crate::rollout::notes::{self, StageNote};
use crate::rollout::state::{assess, Assessment, Drift, Observed};
use crate::rollout::{stage_name, LAST_STAGE};
use serde::Serialize;
use std::process::ExitCode;

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

pub async fn run(ctx: &Ctx) -> CliResult<ExitCode> {
    let r = ui::rollout_config(ctx)?;
    let o = Observed::read(&r)?;
    let a = assess(&o, &r);
    let next = Some(a.base() + 1).filter(|n| *n <= LAST_STAGE);
    let gates = match next {
        Some(n) => gates::check(&ctx.config, &r, n, now_ms()).await,
        None => vec![],
    };
    let recorded = notes::read_note(&r.state_dir);
    let stage = a.stage;
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
        return Ok(exit_code(stage));
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
    Ok(exit_code(stage))
}

/// 0 at a stage, 8 (DRIFT) when the machine is not cleanly at any: scripts and monitoring
/// must not read a half-done migration as fine.
fn exit_code(stage: Option<u8>) -> ExitCode {
    match stage {
        Some(_) => ExitCode::SUCCESS,
        None => ExitCode::from(crate::cli::Kind::Drift as u8),
    }
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

pub fn print_drift(a: &Assessment) {
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

pub fn print_gates(gates: &[Gate]) {
    output::table(
        &["check", "result", "detail"],
        gates
            .iter()
            .map(|g| vec![g.name.clone(), g.result().into(), g.detail.clone()])
            .collect(),
    );
}
