//! The steps from what is on the machine to a target stage, each with what it will
//! change (a file diff or the commands it will run) and how it is verified. Steps whose
//! component already matches are kept in the plan as "already done", which is what makes
//! a rerun resume where a failure stopped it and a second run change nothing.

use super::crontab::{self, CronTarget};
use super::state::{expected, Observed};
use super::systemd::{BEAT_UNIT_FILE, WORKER_UNIT_FILE};
use super::{config_py, notes, Error, Result};
use crate::config::rollout::Rollout;
use crate::sys::files;
use crate::sys::lines::diff;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    InstallUnit {
        unit: String,
        path: PathBuf,
        #[serde(skip)]
        content: String,
    },
    DaemonReload,
    /// enable + start
    StartUnit {
        unit: String,
    },
    /// stop (SIGTERM, graceful) + disable
    StopUnit {
        unit: String,
    },
    SetFlag {
        value: bool,
    },
    RestartPlatform {
        unit: String,
    },
    SetCron {
        schedule: CronTarget,
    },
    /// Read-only: the cron entry is back at */10 (and, optionally, cron ran it again).
    VerifyCron,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub title: String,
    #[serde(flatten)]
    pub action: Action,
    /// False when the machine already matches (the step will not run).
    pub needed: bool,
    /// Changes nothing (verification only); never asked about.
    pub read_only: bool,
    /// Unified diff of the file, or the commands it will run.
    pub change: String,
    /// How the step is checked after it ran.
    pub verify: String,
    /// Why the step cannot run as things are (it fails when run; the wizard can skip it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
    /// The title of an earlier step this one follows from (the platform restart follows
    /// the flag change): when that one is skipped or not done, this one is not done.
    #[serde(skip)]
    pub after: Option<String>,
}

fn step(title: String, action: Action, needed: bool, change: String, verify: String) -> Step {
    Step {
        title,
        action,
        needed,
        read_only: false,
        change,
        verify,
        blocked: None,
        after: None,
    }
}

fn install_steps(r: &Rollout) -> Result<Vec<Step>> {
    let mut out = vec![];
    let mut any = false;
    for (unit, shipped) in [
        (&r.worker_unit, WORKER_UNIT_FILE),
        (&r.beat_unit, BEAT_UNIT_FILE),
    ] {
        let content = &super::systemd::render(shipped, r);
        let path = r.unit_dir.join(format!("{unit}.service"));
        // An existing unit is the operator's (perhaps customised): never overwritten.
        let existing = files::read_opt(&path)?.map(|b| String::from_utf8_lossy(&b).to_string());
        let needed = existing.is_none();
        any |= needed;
        let title = match &existing {
            Some(t) if t != content => format!(
                "install {} (present and different from the shipped unit: kept)",
                path.display()
            ),
            _ => format!("install {}", path.display()),
        };
        let now = existing.unwrap_or_default();
        out.push(step(
            title,
            Action::InstallUnit {
                unit: unit.clone(),
                path: path.clone(),
                content: content.clone(),
            },
            needed,
            diff(&path.display().to_string(), &now, content),
            "the unit file exists".into(),
        ));
    }
    let reload = any || notes::has_marker(&r.state_dir, notes::RELOAD_PENDING);
    out.push(step(
        "reload systemd".into(),
        Action::DaemonReload,
        reload,
        format!("$ {} daemon-reload", r.systemctl),
        "systemctl exits 0".into(),
    ));
    Ok(out)
}

fn start_step(o: &Observed, r: &Rollout, unit: &str, worker: bool) -> Step {
    let u = if worker { o.worker } else { o.beat };
    let mut cmds = vec![];
    if !u.enabled {
        cmds.push(format!("$ {} enable {unit}", r.systemctl));
    }
    if !u.active {
        cmds.push(format!("$ {} start {unit}", r.systemctl));
    }
    step(
        format!("start {unit}"),
        Action::StartUnit { unit: unit.into() },
        !cmds.is_empty(),
        cmds.join("\n"),
        format!("{} is-active {unit}", r.systemctl),
    )
}

fn stop_step(o: &Observed, r: &Rollout, unit: &str, worker: bool) -> Step {
    let u = if worker { o.worker } else { o.beat };
    let mut cmds = vec![];
    if u.active {
        cmds.push(format!(
            "$ {} stop {unit}   # SIGTERM: graceful",
            r.systemctl
        ));
    }
    if u.enabled {
        cmds.push(format!("$ {} disable {unit}", r.systemctl));
    }
    step(
        format!("stop {unit}"),
        Action::StopUnit { unit: unit.into() },
        !cmds.is_empty(),
        cmds.join("\n"),
        format!("{unit} is inactive and disabled"),
    )
}

/// A step that cannot run: shown with the reason, fails if run.
fn blocked(mut s: Step, why: String) -> Step {
    s.needed = true;
    s.change = format!("cannot be done as things are: {why}");
    s.blocked = Some(why);
    s
}

fn flag_steps(o: &Observed, r: &Rollout, value: bool) -> Vec<Step> {
    let path = r.platform_config.display().to_string();
    let word = if value { "True" } else { "False" };
    let title = format!("set {} = {word} in {path}", r.flag);
    let verify = format!("{path} reads {} = {word}", r.flag);
    let set = match config_py::set(&o.config_text, &r.flag, value) {
        Ok(new) => step(
            title,
            Action::SetFlag { value },
            new != o.config_text,
            diff(&path, &o.config_text, &new),
            verify,
        ),
        Err(why) => blocked(
            step(
                title,
                Action::SetFlag { value },
                true,
                String::new(),
                verify,
            ),
            why,
        ),
    };
    let changes = set.needed && set.blocked.is_none();
    let restart = changes || notes::has_marker(&r.state_dir, notes::RESTART_PENDING);
    let after = set.needed.then(|| set.title.clone());
    vec![
        set,
        Step {
            after,
            ..step(
                format!("restart {}", r.platform_unit),
                Action::RestartPlatform {
                    unit: r.platform_unit.clone(),
                },
                restart,
                format!("$ {} restart {}", r.systemctl, r.platform_unit),
                format!("{} is-active {}", r.systemctl, r.platform_unit),
            )
        },
    ]
}

fn cron_step(o: &Observed, r: &Rollout, target: CronTarget) -> Step {
    let label = super::state::crontab_of(r).label();
    let mut s = step(
        format!("cron {} -> {}", r.cron_match, target.word()),
        Action::SetCron { schedule: target },
        true,
        String::new(),
        format!("the entry in {label} is {}", target.word()),
    );
    match super::state::line_format(r, &o.cron_text)
        .and_then(|f| crontab::set(&o.cron_text, &r.cron_match, target, f))
    {
        Ok(new) => {
            s.needed = new != o.cron_text;
            s.change = diff(&label, &o.cron_text, &new);
            s
        }
        Err(why) => blocked(s, why),
    }
}

/// The steps that bring the machine to `stage` (1–3) from wherever it is.
pub fn to_stage(stage: u8, o: &Observed, r: &Rollout) -> Result<Vec<Step>> {
    let e = expected(stage);
    let mut out = install_steps(r)?;
    out.push(start_step(o, r, &r.worker_unit, true));
    out.push(start_step(o, r, &r.beat_unit, false));
    out.extend(flag_steps(o, r, e.flag));
    out.push(cron_step(o, r, e.cron));
    // Moving forward never starts what it cannot finish.
    if let Some(s) = out.iter().find(|s| s.blocked.is_some()) {
        return Err(Error::Edit {
            what: s.title.clone(),
            msg: s.blocked.clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Back to stage 0: beat, worker, flag, platform restart, cron, verification.
pub fn rollback(o: &Observed, r: &Rollout) -> Result<Vec<Step>> {
    let mut out = vec![
        stop_step(o, r, &r.beat_unit, false),
        stop_step(o, r, &r.worker_unit, true),
    ];
    // A step that cannot be done is kept (and fails when reached): stopping the queue
    // must not wait for a hand-edited cron line or flag.
    out.extend(flag_steps(o, r, false));
    let cron = cron_step(o, r, CronTarget::Every10);
    let after = cron.needed.then(|| cron.title.clone());
    out.push(cron);
    out.push(Step {
        read_only: true,
        after,
        ..step(
            "verify the cron entry".into(),
            Action::VerifyCron,
            true,
            String::new(),
            format!("exactly one valid */10 line runs {}", r.cron_match),
        )
    });
    Ok(out)
}

/// True when running the plan would change something.
pub fn changes_anything(steps: &[Step]) -> bool {
    steps.iter().any(|s| s.needed && !s.read_only)
}
