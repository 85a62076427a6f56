//! `[platform]`: the CCExtractor Sample Platform that ciq runs tasks for.
//!
//! ```toml
//! [platform]
//! config_py = "/var/www/sample-platform/config.py"  # the platform: its folder, DATABASE_URI,
//!                                # GCP_INSTANCE_MAX_RUNTIME, broker URL and the feature flag
//! mode = "auto"                  # auto (the flag: False = shadow, True = active) | active | shadow
//! python = "/var/www/sample-platform/venv/bin/python3"   # the platform's interpreter
//! bridge = "/usr/local/share/ciq/contrib/sample-platform/ciq_bridge.py"
//! lock_dir = "/run/lock/ciq-sample-platform"   # shared with `ciq cron-guard`
//! lock_wait = "10s"              # a start waits this long for a cron run, then defers
//! env = { GOOGLE_APPLICATION_CREDENTIALS = "…" }   # extra environment for the bridge
//! platforms = ["linux", "windows"]
//! max_runtime = "120m"           # default: GCP_INSTANCE_MAX_RUNTIME from config.py
//! ```
//!
//! ciq starts and maintains tests only through the bridge, which calls the platform's
//! own functions (`start_test`, `delete_expired_instances`, …); ciq reads the platform's
//! database for discovery and never writes it.

use super::duration::Dur;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether ciq starts tests or only watches (shadow) what the cron starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The platform's flag decides at run time: False = shadow, True = active.
    #[default]
    Auto,
    Active,
    Shadow,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformFile {
    pub config_py: Option<String>,
    pub mode: Option<Mode>,
    pub python: Option<String>,
    pub bridge: Option<String>,
    /// Extra arguments for the bridge, before its command (the stand-in's `--database`).
    pub bridge_args: Option<Vec<String>>,
    /// Extra environment for the bridge (values may be secrets: `config show` prints the
    /// names only).
    #[serde(default, serialize_with = "super::file::env_names_only")]
    pub env: std::collections::BTreeMap<String, String>,
    pub lock_dir: Option<String>,
    pub lock_wait: Option<Dur>,
    /// Longest wait before a deferred start is tried again, whatever the platform asks
    /// for (default 1h; the platform suggests 15s–5m by reason).
    pub defer_max: Option<Dur>,
    pub max_runtime: Option<Dur>,
    pub platforms: Option<Vec<String>>,
    pub pool_size: Option<u32>,
    pub db_timeout: Option<Dur>,
    pub discover_limit: Option<u32>,
}

pub const DEFAULT_LOCK_DIR: &str = "/run/lock/ciq-sample-platform";

impl PlatformFile {
    pub fn max_runtime(&self) -> Duration {
        self.max_runtime
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(120 * 60))
    }

    pub fn platforms(&self) -> Vec<String> {
        self.platforms
            .clone()
            .unwrap_or_else(|| vec!["linux".into(), "windows".into()])
    }

    pub fn pool_size(&self) -> u32 {
        self.pool_size.unwrap_or(5).max(1)
    }

    pub fn db_timeout(&self) -> Duration {
        self.db_timeout
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(5))
    }

    pub fn discover_limit(&self) -> u32 {
        self.discover_limit.unwrap_or(1000).max(1)
    }

    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or_default()
    }

    pub fn lock_dir(&self) -> PathBuf {
        PathBuf::from(self.lock_dir.as_deref().unwrap_or(DEFAULT_LOCK_DIR))
    }

    pub fn lock_wait(&self) -> Duration {
        self.lock_wait
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(10))
    }

    pub fn defer_max(&self) -> Duration {
        self.defer_max
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(3600))
    }

    /// The platform's folder: where config.py lives (the bridge runs there).
    pub fn folder(&self) -> Option<PathBuf> {
        let p = Path::new(self.config_py.as_deref()?);
        Some(match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        })
    }

    /// The bridge's argv up to (not including) its command: the interpreter, the script,
    /// `--platform-dir`, `--lock-dir`, `--lock-wait` and any `bridge_args`. `None` when
    /// neither a bridge nor config.py is configured.
    pub fn bridge_argv(&self) -> Option<Vec<String>> {
        if self.bridge.is_none() && self.config_py.is_none() {
            return None;
        }
        let script = self
            .bridge
            .clone()
            .unwrap_or_else(|| default_bridge().display().to_string());
        let mut argv = vec![
            self.python.clone().unwrap_or_else(|| "python3".into()),
            script,
        ];
        if let Some(dir) = self.folder() {
            argv.push("--platform-dir".into());
            argv.push(dir.display().to_string());
        }
        argv.push("--lock-dir".into());
        argv.push(self.lock_dir().display().to_string());
        argv.push("--lock-wait".into());
        argv.push(self.lock_wait().as_secs().max(1).to_string());
        argv.extend(self.bridge_args.iter().flatten().cloned());
        Some(argv)
    }

    /// Whether ciq.toml sets up a platform at all (config.py, a bridge or a mode).
    pub fn configured(&self) -> bool {
        self.config_py.is_some() || self.bridge.is_some() || self.mode.is_some()
    }

    /// Checks what the file alone cannot express. Returns (dotted key, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        for p in self.platforms.iter().flatten() {
            let ok = !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return Err((
                    "platform.platforms".into(),
                    format!("invalid platform name {p:?}"),
                ));
            }
        }
        if self.max_runtime.is_some_and(|d| d.0.is_zero()) {
            return Err(("platform.max_runtime".into(), "must be positive".into()));
        }
        if self.defer_max.is_some_and(|d| d.0.is_zero()) {
            return Err(("platform.defer_max".into(), "must be positive".into()));
        }
        if self.lock_wait.is_some_and(|d| d.0.is_zero()) {
            return Err(("platform.lock_wait".into(), "must be positive".into()));
        }
        Ok(())
    }
}

/// The installed bridge: `<prefix>/share/ciq/contrib/sample-platform/ciq_bridge.py`
/// beside `<prefix>/bin/ciq`.
pub fn default_bridge() -> PathBuf {
    let prefix = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("/usr/local"));
    prefix.join("share/ciq/contrib/sample-platform/ciq_bridge.py")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let p = PlatformFile::default();
        assert_eq!(p.max_runtime(), Duration::from_secs(7200));
        assert_eq!(p.platforms(), vec!["linux", "windows"]);
        assert_eq!(p.mode(), Mode::Auto);
        assert!(p.bridge_argv().is_none());
        assert!(p.validate().is_ok());
        let p: PlatformFile = toml::from_str("platforms = [\"li nux\"]").unwrap();
        assert!(p.validate().unwrap_err().1.contains("li nux"));
    }

    #[test]
    fn bridge_runs_in_the_platform_folder_with_its_python() {
        let p: PlatformFile = toml::from_str(
            "config_py = \"/var/www/sp/config.py\"\npython = \"/var/www/sp/venv/bin/python\"\nbridge = \"/b.py\"\nlock_wait = \"3s\"",
        )
        .unwrap();
        assert_eq!(p.folder().unwrap(), PathBuf::from("/var/www/sp"));
        assert_eq!(
            p.bridge_argv().unwrap(),
            [
                "/var/www/sp/venv/bin/python",
                "/b.py",
                "--platform-dir",
                "/var/www/sp",
                "--lock-dir",
                DEFAULT_LOCK_DIR,
                "--lock-wait",
                "3"
            ]
        );
    }
}
