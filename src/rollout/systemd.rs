//! systemd through `systemctl`: the ciq unit files shipped in `install/`, and
//! start/stop/enable/disable/restart of units. `systemctl stop ciq-worker` sends SIGTERM,
//! so the worker finishes or returns its in-flight tasks before it exits.

use super::Error;
use crate::sys::program;
use serde::Serialize;

pub const WORKER_UNIT_FILE: &str = include_str!("../../install/ciq-worker.service");
pub const BEAT_UNIT_FILE: &str = include_str!("../../install/ciq-beat.service");

/// A shipped unit with the machine's values: the service user and group, the platform's
/// folder as working directory, this ciq binary and the config file the migration used.
pub fn render(unit: &str, r: &crate::config::rollout::Rollout) -> String {
    unit.lines()
        .map(|l| {
            if l.starts_with("User=") {
                format!("User={}", r.service_user)
            } else if l.starts_with("Group=") {
                format!("Group={}", r.service_group)
            } else if l.starts_with("WorkingDirectory=") {
                format!("WorkingDirectory={}", r.platform_dir.display())
            } else if let Some(rest) =
                l.strip_prefix("ExecStart=/usr/local/bin/ciq --config /etc/ciq/ciq.toml ")
            {
                format!(
                    "ExecStart={} --config {} {rest}",
                    r.ciq_binary.display(),
                    r.ciq_config.display()
                )
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect()
}

/// A unit as systemd reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UnitState {
    pub active: bool,
    pub enabled: bool,
}

pub struct Systemctl<'a> {
    pub program: &'a str,
}

impl Systemctl<'_> {
    /// Running, or on its way up or down (`activating`, `deactivating`, `reloading`):
    /// anything but inactive or failed still needs a stop.
    fn running(&self, unit: &str) -> Result<bool, Error> {
        let ran = program::run(self.program, &["is-active", unit], program::CALL_TIMEOUT)?;
        Ok(ran.ok
            || matches!(
                ran.stdout.trim(),
                "activating" | "deactivating" | "reloading" | "refreshing"
            ))
    }

    pub fn state(&self, unit: &str) -> Result<UnitState, Error> {
        let enabled = program::run(
            self.program,
            &["is-enabled", "--quiet", unit],
            program::CALL_TIMEOUT,
        )?;
        Ok(UnitState {
            active: self.running(unit)?,
            enabled: enabled.ok,
        })
    }

    /// Strictly `active` (after a start or restart).
    pub fn is_active(&self, unit: &str) -> Result<bool, Error> {
        Ok(program::run(
            self.program,
            &["is-active", "--quiet", unit],
            program::CALL_TIMEOUT,
        )?
        .ok)
    }

    /// Runs `systemctl VERB [UNIT]`; fails with systemctl's own message.
    pub fn call(&self, verb: &str, unit: Option<&str>) -> Result<(), Error> {
        self.call_watched(verb, unit, &mut || {})
    }

    /// `call`, with `tick` called about every 100 ms while systemctl runs (a stop that
    /// waits for the unit to end).
    pub fn call_watched(
        &self,
        verb: &str,
        unit: Option<&str>,
        tick: &mut dyn FnMut(),
    ) -> Result<(), Error> {
        let mut args = vec![verb];
        args.extend(unit);
        program::run_watched(self.program, &args, program::CALL_TIMEOUT, tick)?.check(&format!(
            "{} {}",
            self.program,
            args.join(" ")
        ))?;
        Ok(())
    }

    /// Sends SIGTERM to the unit's main process only (`systemctl kill --kill-who=main`):
    /// to a worker that is already stopping, a second signal that cuts what it waits for.
    pub fn terminate_main(&self, unit: &str) -> Result<(), Error> {
        let args = ["kill", "--kill-who=main", "--signal=SIGTERM", unit];
        program::run(self.program, &args, program::CALL_TIMEOUT)?.check(&format!(
            "{} {}",
            self.program,
            args.join(" ")
        ))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_units_stop_gracefully() {
        for (u, cmd) in [(WORKER_UNIT_FILE, " work\n"), (BEAT_UNIT_FILE, " beat\n")] {
            assert!(u.contains("KillSignal=SIGTERM"));
            assert!(u.contains("Restart=on-failure"));
            assert!(u
                .lines()
                .any(|l| l.starts_with("ExecStart=") && l.ends_with(cmd.trim_end())));
        }
        let stop: u64 = WORKER_UNIT_FILE
            .lines()
            .find_map(|l| l.strip_prefix("TimeoutStopSec="))
            .and_then(|v| v.parse().ok())
            .unwrap();
        let starts = crate::config::FINISH_ON_STOP
            .iter()
            .map(|(_, d)| d.as_secs())
            .max()
            .unwrap_or(0);
        assert!(
            stop > crate::config::WorkerConfig::default()
                .shutdown_timeout
                .0
                .as_secs()
                + starts,
            "systemd must not SIGKILL a worker waiting for a platform start"
        );
    }
}
