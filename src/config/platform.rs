//! `[platform]`: the CI platform's database tasks and the VM runners.
//!
//! ```toml
//! [platform]
//! platforms = ["linux", "windows"]   # platforms discovery looks at
//! max_runtime = "120m"               # older instances of unfinished tests are expired
//! start_vm = { exec = ["/usr/local/bin/start-test-vm", "{vm_name}"] }
//! delete_vm = { exec = ["/usr/local/bin/delete-test-vm", "{vm_name}"] }
//! pool_size = 5                      # database connections per process
//! db_timeout = "5s"                  # connect / acquire timeout
//! discover_limit = 1000              # pending tests read per platform and tick
//! ```
//!
//! `[tasks.start_test] runner = …` (DESIGN §6) is accepted as the start runner too;
//! setting both is an error.

use super::duration::Dur;
use super::file::RunnerSpec;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformFile {
    pub max_runtime: Option<Dur>,
    pub platforms: Option<Vec<String>>,
    /// Starts the VM for one test (args: test_id, platform, vm_name, test_type, branch,
    /// commit, pr_nr).
    pub start_vm: Option<RunnerSpec>,
    /// Deletes an expired test's VM (args: vm_name, test_id, platform).
    pub delete_vm: Option<RunnerSpec>,
    pub pool_size: Option<u32>,
    pub db_timeout: Option<Dur>,
    pub discover_limit: Option<u32>,
}

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

    /// Checks what the file alone cannot express; `task_runner` is
    /// `[tasks.start_test] runner`. Returns (dotted key, message).
    pub fn validate(&self, task_runner: Option<&RunnerSpec>) -> Result<(), (String, String)> {
        if self.start_vm.is_some() && task_runner.is_some() {
            return Err((
                "platform.start_vm".into(),
                "set the start runner once: platform.start_vm or tasks.start_test.runner".into(),
            ));
        }
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let p = PlatformFile::default();
        assert_eq!(p.max_runtime(), Duration::from_secs(7200));
        assert_eq!(p.platforms(), vec!["linux", "windows"]);
        assert!(p.validate(None).is_ok());
        let p: PlatformFile =
            toml::from_str("start_vm = { exec = [\"x\"] }\nplatforms = [\"li nux\"]").unwrap();
        assert!(p
            .validate(Some(&RunnerSpec::Exec {
                exec: vec!["y".into()],
                env: Default::default(),
                env_allow: None,
                env_deny: vec![],
            }))
            .is_err());
        assert!(p.validate(None).unwrap_err().1.contains("li nux"));
    }

    #[test]
    fn runner_env_values_never_serialize() {
        let p: PlatformFile =
            toml::from_str("start_vm = { exec = [\"x\"], env = { BOT_TOKEN = \"s3cret\" } }")
                .unwrap();
        let shown = serde_json::to_string(&p.start_vm).unwrap();
        assert!(
            shown.contains("BOT_TOKEN") && !shown.contains("s3cret"),
            "{shown}"
        );
    }
}
