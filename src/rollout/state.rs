//! The current stage, read from the real config file, cron entry and services (never
//! only from a note), and the drift between them when they do not agree on one stage.

use super::config_py::{self, FlagValue};
use super::crontab::{self, CronState, CronTarget, Crontab};
use super::systemd::{Systemctl, UnitState};
use super::{Error, Result, LAST_STAGE};
use crate::config::rollout::Rollout;
use crate::sys::files;
use serde::Serialize;

/// What is on the machine right now.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    pub flag: FlagValue,
    pub cron: CronState,
    pub worker: UnitState,
    pub beat: UnitState,
    #[serde(skip)]
    pub config_text: String,
    #[serde(skip)]
    pub cron_text: String,
}

impl Observed {
    pub fn read(r: &Rollout) -> Result<Observed> {
        let path = &r.platform_config;
        let bytes = files::read_opt(path)?.ok_or_else(|| Error::Unreadable {
            what: path.display().to_string(),
            msg: "no such file (set rollout.platform_config)".into(),
        })?;
        let config_text = crontab::utf8(path.display().to_string(), bytes)?;
        let cron_text = crontab_of(r).read()?;
        let sc = systemctl_of(r);
        Ok(Observed {
            flag: config_py::read(&config_text, &r.flag),
            cron: crontab::read(&cron_text, &r.cron_match),
            worker: sc.state(&r.worker_unit)?,
            beat: sc.state(&r.beat_unit)?,
            config_text,
            cron_text,
        })
    }
}

pub fn crontab_of(r: &Rollout) -> Crontab<'_> {
    Crontab {
        target: &r.crontab,
        program: &r.crontab_program,
    }
}

/// How the cron line in `text` is laid out (a user field or not, see
/// [`super::cronfmt::user_field`]) and what guards it. Err (one line) when ambiguous.
pub fn line_format<'a>(r: &'a Rollout, text: &str) -> Result<crontab::LineFormat<'a>, String> {
    Ok(crontab::LineFormat {
        guard: &r.guard_command,
        user_field: super::cronfmt::user_field(&r.crontab, r.crontab_format, text, &r.cron_match)?,
    })
}

pub fn systemctl_of(r: &Rollout) -> Systemctl<'_> {
    Systemctl {
        program: &r.systemctl,
    }
}

/// What a stage requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub services: bool,
    pub flag: bool,
    pub cron: CronTarget,
}

pub fn expected(stage: u8) -> Expected {
    match stage {
        0 => Expected {
            services: false,
            flag: false,
            cron: CronTarget::Every10,
        },
        1 => Expected {
            services: true,
            flag: false,
            cron: CronTarget::Guarded,
        },
        2 => Expected {
            services: true,
            flag: true,
            cron: CronTarget::Guarded,
        },
        _ => Expected {
            services: true,
            flag: true,
            cron: CronTarget::Disabled,
        },
    }
}

/// One component that does not match the stage.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Drift {
    pub component: String,
    pub found: String,
    pub expected: String,
}

fn unit_text(name: &str, u: &UnitState) -> String {
    format!(
        "{name} {} and {}",
        if u.active { "running" } else { "stopped" },
        if u.enabled { "enabled" } else { "disabled" }
    )
}

/// The components of `o` that differ from what `stage` requires.
pub fn mismatches(o: &Observed, r: &Rollout, stage: u8) -> Vec<Drift> {
    let e = expected(stage);
    let mut out = vec![];
    for (name, u) in [(&r.worker_unit, &o.worker), (&r.beat_unit, &o.beat)] {
        let ok = if e.services {
            u.active && u.enabled
        } else {
            !u.active && !u.enabled
        };
        if !ok {
            out.push(Drift {
                component: format!("service {name}"),
                found: unit_text(name, u),
                expected: if e.services {
                    "running and enabled".into()
                } else {
                    "stopped and disabled".into()
                },
            });
        }
    }
    if o.flag.as_bool() != Some(e.flag) {
        out.push(Drift {
            component: format!("flag {}", r.flag),
            found: o.flag.describe(),
            expected: if e.flag { "True" } else { "False" }.into(),
        });
    }
    if o.cron != e.cron.state() {
        out.push(Drift {
            component: format!("cron entry {}", r.cron_match),
            found: o.cron.describe(),
            expected: e.cron.state().describe(),
        });
    }
    out
}

/// The stage, or the drift and how to resolve it.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    /// The stage every component agrees on; None when they drift apart.
    pub stage: Option<u8>,
    /// The highest stage some component already shows (the transition in progress).
    pub toward: u8,
    pub drift: Vec<Drift>,
    /// Commands that resolve the drift.
    pub fix: Vec<String>,
}

impl Assessment {
    /// Where `next` starts from: the stage, or the one before a half-done transition.
    pub fn base(&self) -> u8 {
        self.stage.unwrap_or(self.toward.saturating_sub(1))
    }
}

pub fn assess(o: &Observed, r: &Rollout) -> Assessment {
    if let Some(s) = (0..=LAST_STAGE).find(|s| mismatches(o, r, *s).is_empty()) {
        return Assessment {
            stage: Some(s),
            toward: s,
            drift: vec![],
            fix: vec![],
        };
    }
    let services = o.worker.active || o.beat.active || o.worker.enabled || o.beat.enabled;
    let toward = [
        (services, 1),
        (o.cron == CronState::Guarded, 1),
        (o.flag == FlagValue::True, 2),
        (o.cron == CronState::Every30, 2),
        (o.cron == CronState::Disabled, 3),
    ]
    .iter()
    .filter(|(hit, _)| *hit)
    .map(|(_, s)| *s)
    .max()
    .unwrap_or(0);
    let mut fix = vec![];
    if matches!(o.cron, CronState::Missing | CronState::Several(_)) {
        fix.push(format!(
            "restore exactly one cron line that runs {} in {} by hand, then rerun",
            r.cron_match,
            crontab_of(r).label()
        ));
    }
    if toward > 0 {
        fix.push(format!(
            "ciq migrate-from-cron --to-stage {toward}   # finish stage {toward}"
        ));
    }
    fix.push("ciq rollback   # back to stage 0 (cron only)".into());
    Assessment {
        stage: None,
        toward,
        drift: mismatches(o, r, toward),
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(running: bool, flag: FlagValue, cron: CronState) -> Observed {
        let u = UnitState {
            active: running,
            enabled: running,
        };
        Observed {
            flag,
            cron,
            worker: u,
            beat: u,
            config_text: String::new(),
            cron_text: String::new(),
        }
    }

    #[test]
    fn stages_and_drift() {
        let r = crate::config::rollout::RolloutFile::default()
            .resolve()
            .unwrap();
        let a = assess(&obs(false, FlagValue::Missing, CronState::Every10), &r);
        assert_eq!(a.stage, Some(0));
        let a = assess(&obs(true, FlagValue::True, CronState::Disabled), &r);
        assert_eq!(a.stage, Some(3));
        let a = assess(&obs(true, FlagValue::True, CronState::Every10), &r);
        assert_eq!((a.stage, a.toward, a.base()), (None, 2, 1));
        assert_eq!(a.drift.len(), 1);
        assert!(a.drift[0].component.starts_with("cron entry"));
        assert!(a.fix[0].starts_with("ciq migrate-from-cron --to-stage 2"));
    }
}
