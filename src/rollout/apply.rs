//! Running one step: it re-reads the machine first (the plan may be minutes old), changes
//! only what still differs, then verifies. File edits are backed up and atomic; a change
//! that needs a follow-up (flag → platform restart, unit file → daemon-reload) leaves a
//! marker first, so a rerun after a failure still does the follow-up.

use super::cronfmt;
use super::crontab::{self, CronState, CronTarget};
use super::plan::{Action, Step};
use super::state::{crontab_of, systemctl_of};
use super::{config_py, notes, Error, Result};
use crate::config::rollout::Rollout;
use crate::sys::files;
use std::time::{Duration, Instant};

/// What a step did, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub before: String,
    pub after: String,
    pub backup: Option<String>,
}

fn outcome(before: impl Into<String>, after: impl Into<String>) -> Outcome {
    Outcome {
        before: before.into(),
        after: after.into(),
        backup: None,
    }
}

/// How a step that stops the worker does it: `force` cuts platform starts in flight
/// (see `stop::stop_worker`), `watch` shows what the stop waits for.
pub struct WorkerStop<'a> {
    pub force: bool,
    pub watch: &'a mut dyn super::stop::StopWatch,
}

pub fn apply(
    step: &Step,
    r: &Rollout,
    verify_cron_wait: Option<Duration>,
    worker_stop: WorkerStop,
) -> Result<Outcome> {
    if let Some(why) = &step.blocked {
        return Err(Error::Edit {
            what: step.title.clone(),
            msg: why.clone(),
        });
    }
    let sc = systemctl_of(r);
    match &step.action {
        Action::InstallUnit { path, content, .. } => {
            if files::read_opt(path)?.is_some() {
                return Ok(outcome("present", "present (kept)"));
            }
            notes::set_marker(&r.state_dir, notes::RELOAD_PENDING)?;
            files::atomic_write(path, content.as_bytes(), 0o644)?;
            if files::read_opt(path)?.as_deref() != Some(content.as_bytes()) {
                return Err(Error::Verify(format!("{} was not written", path.display())));
            }
            Ok(outcome("absent", "installed"))
        }
        Action::DaemonReload => {
            sc.call("daemon-reload", None)?;
            notes::clear_marker(&r.state_dir, notes::RELOAD_PENDING)?;
            Ok(outcome("unit files changed", "reloaded"))
        }
        Action::StartUnit { unit } => {
            let before = sc.state(unit)?;
            if !before.enabled {
                sc.call("enable", Some(unit))?;
            }
            if !before.active {
                sc.call("start", Some(unit))?;
            }
            let after = sc.state(unit)?;
            if !sc.is_active(unit)? || !after.enabled {
                return Err(Error::Verify(format!("{unit} is not running and enabled")));
            }
            Ok(outcome(unit_word(before), unit_word(after)))
        }
        Action::StopUnit { unit } => {
            let before = sc.state(unit)?;
            if before.active && *unit == r.worker_unit {
                super::stop::stop_worker(&sc, unit, worker_stop.force, worker_stop.watch)?;
            } else if before.active {
                sc.call("stop", Some(unit))?;
            }
            if before.enabled {
                sc.call("disable", Some(unit))?;
            }
            let after = sc.state(unit)?;
            if after.active || after.enabled {
                return Err(Error::Verify(format!(
                    "{unit} is still {}",
                    unit_word(after)
                )));
            }
            Ok(outcome(unit_word(before), unit_word(after)))
        }
        Action::SetFlag { value } => set_flag(r, *value),
        Action::RestartPlatform { unit } => {
            sc.call("restart", Some(unit))?;
            if !sc.is_active(unit)? {
                return Err(Error::Verify(format!(
                    "{unit} is not active after the restart"
                )));
            }
            notes::clear_marker(&r.state_dir, notes::RESTART_PENDING)?;
            Ok(outcome("flag changed", "restarted"))
        }
        Action::SetCron { schedule } => set_cron(r, *schedule),
        Action::VerifyCron => verify_cron(r, verify_cron_wait),
    }
}

fn unit_word(u: super::systemd::UnitState) -> String {
    format!(
        "{}, {}",
        if u.active { "active" } else { "inactive" },
        if u.enabled { "enabled" } else { "disabled" }
    )
}

fn set_flag(r: &Rollout, value: bool) -> Result<Outcome> {
    let path = &r.platform_config;
    let what = path.display().to_string();
    let bytes = files::read_opt(path)?.ok_or_else(|| Error::Unreadable {
        what: what.clone(),
        msg: "no such file".into(),
    })?;
    let text = crontab::utf8(what.clone(), bytes)?;
    let before = config_py::read(&text, &r.flag);
    let new = config_py::set(&text, &r.flag, value).map_err(|msg| Error::Edit {
        what: what.clone(),
        msg,
    })?;
    if new == text {
        return Ok(outcome(before.describe(), before.describe()));
    }
    let backup = files::backup_file(&r.backup_dir, path)?;
    // Before the write: if we die right after it, a rerun still restarts the platform.
    notes::set_marker(&r.state_dir, notes::RESTART_PENDING)?;
    files::atomic_write(path, new.as_bytes(), 0o644)?;
    let after = files::read_opt(path)?
        .map(|b| config_py::read(&String::from_utf8_lossy(&b), &r.flag))
        .unwrap_or(config_py::FlagValue::Missing);
    if after.as_bool() != Some(value) {
        return Err(Error::Verify(format!("{what} reads {}", after.describe())));
    }
    Ok(Outcome {
        backup: backup.map(|b| b.display().to_string()),
        ..outcome(before.describe(), after.describe())
    })
}

fn set_cron(r: &Rollout, target: CronTarget) -> Result<Outcome> {
    let ct = crontab_of(r);
    let text = ct.read()?;
    let before = crontab::read(&text, &r.cron_match);
    let edit_err = |msg| Error::Edit {
        what: ct.label(),
        msg,
    };
    let format = super::state::line_format(r, &text).map_err(edit_err)?;
    let new = crontab::set(&text, &r.cron_match, target, format).map_err(edit_err)?;
    if new == text {
        return Ok(outcome(before.describe(), before.describe()));
    }
    let backup = ct.write(&text, &new, &r.backup_dir)?;
    let written = ct.read()?;
    // Proven before it is kept: a line cron cannot run goes back to the previous text.
    if let Err(why) = cronfmt::check_entry(&written, &r.cron_match, format.user_field) {
        let restored = ct.write(&written, &text, &r.backup_dir).is_ok() && ct.read()? == text;
        return Err(Error::Verify(format!(
            "the new cron line in {} was not kept: {why}; {}",
            ct.label(),
            if restored {
                format!("the previous text is back (backup {})", backup.display())
            } else {
                format!("restoring it failed: restore {} by hand", backup.display())
            }
        )));
    }
    let after = crontab::read(&written, &r.cron_match);
    if after != target.state() {
        return Err(Error::Verify(format!(
            "{} is {}",
            ct.label(),
            after.describe()
        )));
    }
    Ok(Outcome {
        backup: Some(backup.display().to_string()),
        ..outcome(before.describe(), after.describe())
    })
}

/// A cron line needs five time fields and a command (a cron.d file also a user).
fn valid_line(text: &str, pattern: &str, system_file: bool) -> bool {
    text.lines()
        .filter(|l| l.contains(pattern) && !l.trim_start().starts_with('#'))
        .any(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let need = if system_file { 7 } else { 6 };
            fields.len() >= need
                && fields[..5].iter().all(|f| {
                    f.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "*/,-".contains(c))
                })
        })
}

fn verify_cron(r: &Rollout, wait: Option<Duration>) -> Result<Outcome> {
    let ct = crontab_of(r);
    let text = ct.read()?;
    let state = crontab::read(&text, &r.cron_match);
    let system_file = super::state::line_format(r, &text)
        .map(|f| f.user_field)
        .map_err(|msg| Error::Edit {
            what: ct.label(),
            msg,
        })?;
    if state != CronState::Every10 || !valid_line(&text, &r.cron_match, system_file) {
        return Err(Error::Verify(format!(
            "the cron entry for {} in {} is {}, not a valid */10 line",
            r.cron_match,
            ct.label(),
            state.describe()
        )));
    }
    let Some(wait) = wait else {
        return Ok(outcome("*/10", "*/10 (valid)"));
    };
    // The platform's cron line rewrites its log (`> logs/cron.log`) on every run: a new
    // run shows as a new modification time or new content.
    let log = &r.cron_log;
    let stamp = || {
        let m = std::fs::metadata(log).ok();
        (
            m.as_ref().and_then(|m| m.modified().ok()),
            m.map(|m| m.len()),
            files::read_opt(log).ok().flatten(),
        )
    };
    let before = stamp();
    let deadline = Instant::now() + wait;
    loop {
        std::thread::sleep(Duration::from_millis(200).min(wait));
        let now = stamp();
        if now.1.is_some() && now != before {
            return Ok(outcome("*/10", "*/10 (cron ran it)"));
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout(format!(
                "{} was not rewritten by a cron run of {} within {}",
                log.display(),
                r.cron_match,
                humantime::format_duration(wait)
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_line;

    #[test]
    fn cron_lines_are_checked_for_shape() {
        let p = "mod_ci/cron.py";
        assert!(valid_line("*/10 * * * * python mod_ci/cron.py\n", p, false));
        assert!(!valid_line("*/10 * * * python mod_ci/cron.py\n", p, true));
        assert!(valid_line(
            "*/10 * * * * www-data python mod_ci/cron.py\n",
            p,
            true
        ));
    }
}
