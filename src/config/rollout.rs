//! `[rollout]`: where the platform's config, cron entry and services live, which
//! programs to call, and where ciq keeps backups, its audit log and its notes.
//!
//! Every path and program is configurable so the whole migration can run against
//! temporary files and stand-in `systemctl` / `crontab` programs.

use super::duration::Dur;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    /// The log that shows cron runs, for `rollback --verify-cron` (default /var/log/syslog).
    pub cron_log: Option<String>,
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
        Ok(Rollout {
            platform_config: p(&self.platform_config, "/var/www/sample-platform/config.py"),
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
            cron_log: p(&self.cron_log, "/var/log/syslog"),
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
