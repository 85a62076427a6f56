//! `[rollout]`: where the platform's config, cron entry and services live, which
//! programs to call, and where ciq keeps backups, its audit log and its notes.
//!
//! Every path and program is configurable so the whole migration can run against
//! temporary files and stand-in `systemctl` / `crontab` programs.

use super::duration::Dur;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One setting names the platform's config.py: `[platform] config_py`, read by the mode,
/// cron-guard, discovery and the rollout alike. `[rollout] platform_config` is its old
/// name: accepted (with a warning) when it agrees, refused when it names another file.
/// Returns the warnings to show.
pub fn one_config_py(
    platform: &mut super::platform::PlatformFile,
    rollout: &mut RolloutFile,
) -> Result<Vec<String>, (String, String)> {
    let Some(old) = rollout.platform_config.clone() else {
        rollout.platform_config = platform.config_py.clone();
        return Ok(vec![]);
    };
    let warnings = match platform.config_py.as_deref() {
        Some(new) if new != old => Err((
            "rollout.platform_config".into(),
            format!(
                "names {old} but [platform] config_py names {new}: one setting names the platform's config.py; remove rollout.platform_config"
            ),
        )),
        Some(_) => Ok(vec![
            "ciq.toml: rollout.platform_config is the old name of [platform] config_py, which is set too: remove rollout.platform_config".into(),
        ]),
        None => {
            platform.config_py = Some(old.clone());
            Ok(vec![format!(
                "ciq.toml: rollout.platform_config is the old name of [platform] config_py: read as [platform] config_py = \"{old}\"; rename it"
            )])
        }
    };
    rollout.platform_config = platform.config_py.clone();
    warnings
}

/// The `[rollout]` table exactly as written (every field optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutFile {
    /// The platform's Python config (default /var/www/sample-platform/config.py).
    pub platform_config: Option<String>,
    /// The feature flag assigned in it (default USE_CELERY_TASKS).
    pub flag: Option<String>,
    /// Text that identifies the cron line (default mod_ci/cron.py).
    pub cron_match: Option<String>,
    /// "user" or a path such as /etc/cron.d/sample-platform
    pub crontab: Option<String>,
    /// With crontab = "user": whose crontab (`crontab -u USER`); default the caller's.
    pub crontab_user: Option<String>,
    /// The platform's own systemd unit, restarted after the flag changes (default platform).
    pub platform_unit: Option<String>,
    pub worker_unit: Option<String>,
    pub beat_unit: Option<String>,
    /// Where the ciq unit files are installed (default /etc/systemd/system).
    pub unit_dir: Option<String>,
    /// Program paths (default: looked up on PATH).
    pub systemctl: Option<String>,
    pub crontab_program: Option<String>,
    /// Timestamped copies of every file before it is edited (default /var/backups/ciq).
    pub backup_dir: Option<String>,
    /// Append-only JSON-lines audit log (default /var/log/ciq/rollout.jsonl).
    pub audit_log: Option<String>,
    /// Notes that make a rerun resume (default /var/lib/ciq/rollout).
    pub state_dir: Option<String>,
    /// Gate: no test may have been pending longer than this (default 15m).
    pub pending_threshold: Option<Dur>,
    /// Gate: periodic tasks must have fired and succeeded within this (default 15m).
    pub periodic_max_age: Option<Dur>,
    /// Gate: a worker heartbeat must be younger than this (default 1m).
    pub heartbeat_max_age: Option<Dur>,
    /// The file the cron line rewrites on every run (`> logs/cron.log`), for
    /// `rollback --verify-cron` (default: logs/cron.log in the platform's folder).
    pub cron_log: Option<String>,
    /// What the cron line runs in stages 1–2 in front of the original command (default:
    /// this ciq binary with the config file in use, `… cron-guard --`).
    pub guard_command: Option<String>,
    /// The user and group the ciq services run as (default www-data, like the platform).
    pub service_user: Option<String>,
    pub service_group: Option<String>,
    /// The ciq.toml in use (set at load, not from the file).
    #[serde(skip)]
    pub ciq_config: Option<PathBuf>,
}

/// Where the platform's cron entry lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CrontabTarget {
    /// A user crontab, read with `crontab -l` and written with `crontab FILE`.
    User(Option<String>),
    /// A file such as /etc/cron.d/sample-platform, edited in place.
    File(PathBuf),
}

/// `[rollout]` with every default filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Rollout {
    pub platform_config: PathBuf,
    pub flag: String,
    pub cron_match: String,
    pub crontab: CrontabTarget,
    pub platform_unit: String,
    pub worker_unit: String,
    pub beat_unit: String,
    pub unit_dir: PathBuf,
    pub systemctl: String,
    pub crontab_program: String,
    pub backup_dir: PathBuf,
    pub audit_log: PathBuf,
    pub state_dir: PathBuf,
    pub pending_threshold: Dur,
    pub periodic_max_age: Dur,
    pub heartbeat_max_age: Dur,
    pub cron_log: PathBuf,
    pub guard_command: String,
    pub service_user: String,
    pub service_group: String,
    /// The platform's folder (the services' working directory).
    pub platform_dir: PathBuf,
    /// `--config` for the services and the guard.
    pub ciq_config: PathBuf,
    /// The ciq binary the services and the guard run (this one).
    pub ciq_binary: PathBuf,
}

/// This ciq binary (what the units and the guard run).
fn ciq_binary() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/local/bin/ciq"))
}

impl RolloutFile {
    /// Fills in the defaults; rejects values that could not work.
    pub fn resolve(&self) -> Result<Rollout, String> {
        let s = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_string());
        let p = |v: &Option<String>, d: &str| PathBuf::from(s(v, d));
        let flag = s(&self.flag, "USE_CELERY_TASKS");
        let ident = flag
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if flag.is_empty() || !ident {
            return Err(format!("rollout.flag: {flag:?} is not a Python identifier"));
        }
        let cron_match = s(&self.cron_match, "mod_ci/cron.py");
        if cron_match.trim().is_empty() {
            return Err("rollout.cron_match: must not be empty".into());
        }
        let crontab = match self.crontab.as_deref() {
            None | Some("user") => CrontabTarget::User(self.crontab_user.clone()),
            Some(path) => CrontabTarget::File(PathBuf::from(path)),
        };
        let platform_config = p(&self.platform_config, "/var/www/sample-platform/config.py");
        let platform_dir = platform_config
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let ciq_config = self
            .ciq_config
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/ciq/ciq.toml"));
        for (k, v) in [
            ("service_user", &self.service_user),
            ("service_group", &self.service_group),
        ] {
            if v.as_deref().is_some_and(|u| {
                u.is_empty()
                    || !u
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            }) {
                return Err(format!("rollout.{k}: not a user or group name"));
            }
        }
        Ok(Rollout {
            platform_config,
            flag,
            cron_match,
            crontab,
            platform_unit: s(&self.platform_unit, "platform"),
            worker_unit: s(&self.worker_unit, "ciq-worker"),
            beat_unit: s(&self.beat_unit, "ciq-beat"),
            unit_dir: p(&self.unit_dir, "/etc/systemd/system"),
            systemctl: s(&self.systemctl, "systemctl"),
            crontab_program: s(&self.crontab_program, "crontab"),
            backup_dir: p(&self.backup_dir, "/var/backups/ciq"),
            audit_log: p(&self.audit_log, "/var/log/ciq/rollout.jsonl"),
            state_dir: p(&self.state_dir, "/var/lib/ciq/rollout"),
            pending_threshold: self.pending_threshold.unwrap_or(Dur::secs(15 * 60)),
            periodic_max_age: self.periodic_max_age.unwrap_or(Dur::secs(15 * 60)),
            heartbeat_max_age: self.heartbeat_max_age.unwrap_or(Dur::secs(60)),
            cron_log: self
                .cron_log
                .as_ref()
                .map(PathBuf::from)
                .unwrap_or_else(|| platform_dir.join("logs/cron.log")),
            guard_command: self.guard_command.clone().unwrap_or_else(|| {
                format!(
                    "{} --config {} cron-guard --",
                    ciq_binary().display(),
                    ciq_config.display()
                )
            }),
            service_group: self
                .service_group
                .clone()
                .or_else(|| self.service_user.clone())
                .unwrap_or_else(|| "www-data".into()),
            service_user: s(&self.service_user, "www-data"),
            platform_dir,
            ciq_config,
            ciq_binary: ciq_binary(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_defaults_and_overrides() {
        let r = RolloutFile::default().resolve().unwrap();
        assert_eq!(r.flag, "USE_CELERY_TASKS");
        assert_eq!(r.crontab, CrontabTarget::User(None));
        assert_eq!(r.pending_threshold, Dur::secs(900));
        let f = RolloutFile {
            crontab: Some("/etc/cron.d/platform".into()),
            flag: Some("9bad".into()),
            ..Default::default()
        };
        assert!(f.resolve().unwrap_err().contains("rollout.flag"));
        let f = RolloutFile {
            crontab: Some("/etc/cron.d/platform".into()),
            ..Default::default()
        };
        assert_eq!(
            f.resolve().unwrap().crontab,
            CrontabTarget::File("/etc/cron.d/platform".into())
        );
    }
}
